"""A `report` for the command line: tqdm bars on stderr (one per phase: feature extraction,
the head's epochs, each fine-tuning epoch), and a stop on Ctrl-C that keeps the model."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

from tqdm import tqdm


class TqdmReporter:
    """Draws `report(step=, total=, metrics=, message=)` calls as progress bars."""

    def __init__(self, device: str, file: Any = None) -> None:
        self.device = device
        self.stop_requested = False
        self._file = file or sys.stderr
        self._bar: tqdm | None = None
        self._total: int | None = None
        self._last: dict[str, float] = {}

    def __call__(
        self,
        *,
        step: int | None = None,
        total: int | None = None,
        metrics: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        # A new bar for a new phase: another total, or a step going back (the next phase).
        restart = total is not None and total != self._total
        restart = restart or (step is not None and self._bar is not None and step < self._bar.n)
        if self._bar is None or restart:
            self.close()
            self._total = total if total is not None else self._total
            self._bar = tqdm(total=self._total, desc=message, file=self._file, leave=True)
        elif message is not None:
            self._bar.set_description(message, refresh=False)
        if metrics and "val_accuracy" in metrics:
            self._last = {"val_acc": round(float(metrics["val_accuracy"]), 3)}
        elif metrics and "train_loss" in metrics:
            self._last = {"loss": round(float(metrics["train_loss"]), 3)}
        if self._bar is not None:
            if step is not None:
                self._bar.n = step
            if self._last:
                self._bar.set_postfix(self._last, refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def stop_on_interrupt(self) -> None:
        """The first Ctrl-C asks the run to stop (it returns what it trained so far); a second
        one interrupts at once."""

        def handler(_signum: int, _frame: FrameType | None) -> None:
            self.stop_requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGINT, handler)
