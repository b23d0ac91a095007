"""How durations are written (progress panels): hand-computed cases."""

from __future__ import annotations

import pytest

from cnnviz.notation import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "unknown"),
        (0.0, "0 s"),
        (-3.0, "0 s"),
        (0.04, "0 s"),
        (0.4, "0.4 s"),
        (2.96, "3 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),
        (41.6, "42 s"),
        (59.4, "59 s"),
        (59.6, "1 min 00 s"),
        (185.0, "3 min 05 s"),
        (3599.0, "59 min 59 s"),
        (3725.0, "1 h 02 min"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
