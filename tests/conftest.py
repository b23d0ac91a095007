"""Shared fixtures: tests run from the repository root; AppTest needs its path."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def app_path() -> str:
    return str(ROOT / "app.py")
