"""What every command module of the CLI shares: the error that ends a command with exit 2.

`cnnviz.cli` (the parser and the analysis commands) and `cnnviz.cli_training` (finetune,
predict, fetch-weights) both raise it; neither imports the other for it."""

from __future__ import annotations


class UsageError(Exception):
    """A bad name, size or option: exit 2 with one line."""
