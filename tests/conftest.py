"""Shared fixtures: tests run from the repository root; AppTest needs its path."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/e2e/conftest.py, so `pytest --screenshots DIR` works from the root.
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="save a full-page screenshot of every page here (default: a pytest tmp folder)",
    )


@pytest.fixture(scope="session")
def app_path() -> str:
    return str(ROOT / "app.py")
