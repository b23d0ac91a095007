"""What every command module of the CLI shares: the error that ends a command with exit 2.

Every command module of `cnnviz.cli` raises it; none imports another for it."""

from __future__ import annotations


class UsageError(Exception):
    """A bad name, size or option: exit 2 with one line."""
