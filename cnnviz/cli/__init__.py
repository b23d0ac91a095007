"""Command line: `python -m cnnviz models|summary|rf|check-dataset|finetune|predict|fetch-weights|
experiment|attribute|visualize|queue ...` (JSON keys: a contract). `receptive-field` is `rf` spelled
out, for a student who does not guess the short name.

One module per concept, each adding its commands to the parser: `analysis` (models, summary,
rf), `data` (check-dataset), `explain` (attribute, visualize), `train` (finetune, predict,
fetch-weights), `jobs` (queue), `experiments` (experiment); `common` holds what they share."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cnnviz.cli import analysis, data, experiments, explain, jobs, train
from cnnviz.cli.common import UsageError
from cnnviz.errors import CnnvizError


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cnnviz", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for commands in (analysis, data, explain, train, jobs, experiments):
        commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CnnvizError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    except (UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `| head` stopped reading: the rest is not wanted, no traceback
        # (Python's advice: point stdout at /dev/null, or flushing it at exit fails again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
