"""Command line, the data: `check-dataset`, what a zip, a folder or a built-in dataset
holds (JSON keys: a contract)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnnviz.cli.common import UsageError

# check-dataset decodes every image to see that it decodes; this small side keeps it cheap.
CHECK_SIZE = 32


def _groups(count: int) -> str:
    return f"{count:,} group{'' if count == 1 else 's'}"


def cmd_check_dataset(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz import data  # torchvision and PIL plugins: only for this command

    path = Path(args.path)
    if args.path in data.BUILTIN and not path.exists():
        dataset = data.BUILTIN[args.path](CHECK_SIZE)
    else:
        if not path.exists():
            raise UsageError(f"there is no file or folder {args.path!r}")
        try:
            dataset = data.load_dataset(path, size=CHECK_SIZE)
        except OSError as err:  # unreadable file or folder (permissions, I/O): one line too
            raise UsageError(f"cannot read {args.path!r}: {err.strerror or err}") from None
    if args.json:
        print(json.dumps(dataset.to_json(), indent=2))
        return 0
    counts = dataset.counts()
    print(f"{len(dataset):,} images in {len(counts)} classes")
    for name, count in counts.items():
        print(f"  {name:<24} {count:>6,}")
    if dataset.skipped:
        print(f"skipped {len(dataset.skipped):,}:")
        for item in dataset.skipped:
            print(f"  {item.path}: {item.reason}")
    if dataset.duplicates:
        copies = sum(len(g) for g in dataset.duplicates)
        print(
            f"exact duplicates (same pixels): {_groups(len(dataset.duplicates))}, {copies:,} "
            "images; each group stays on one side of the train/validation split:"
        )
        for group in dataset.duplicates:
            print("  " + " = ".join(dataset.name(i) for i in group))
    across = dataset.across_classes()
    if across:
        print(
            f"the same image in two classes (a labeling slip?): {_groups(len(across))}; they "
            "train but are never validated. Keep each image in its right class folder only:"
        )
        for group in across:
            print("  " + " = ".join(dataset.name(i) for i in group))
    return 0


def add_commands(sub: Any) -> None:
    """This module's commands on the CLI's parser."""
    p = sub.add_parser(
        "check-dataset", help="validate a dataset (.zip or folder, one folder per class)"
    )
    p.add_argument("path", help="a .zip, a folder, or a built-in name (digits, lfw)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_check_dataset)
