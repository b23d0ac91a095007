"""Shared fixtures: tests run from the repository root; AppTest needs its path."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]

# Under pytest-xdist (`make test-fast`, two workers on two cores) each worker's torch works on
# one thread: two workers each with a thread per core would share every core between four.
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)

# The suite never reads the developer's torch cache: where set-up fetched the ImageNet weights,
# the pages' defaults (the synthetic backbone when no ImageNet file is cached) are tested as on
# an offline machine. A test that needs a file places it under a TORCH_HOME of its own.
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="cnnviz-torch-home-")
# A teacher's class code in the environment would put a login before every test server's
# pages; the tests that want one set it themselves (tests/e2e/test_class_code.py).
os.environ.pop("CNNVIZ_CLASS_CODE", None)
atexit.register(shutil.rmtree, os.environ["TORCH_HOME"], True)
# Nor the machine's store (cnnviz.store): features and datasets of the suite's runs, and the
# fine-tuned models the Explain jobs name by file, stay in a folder of its own, removed at exit.
os.environ["CNNVIZ_STORE"] = tempfile.mkdtemp(prefix="cnnviz-test-store-")
os.environ.pop("CNNVIZ_STORE_MB", None)
atexit.register(shutil.rmtree, os.environ["CNNVIZ_STORE"], True)


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)` on a thread of its own: the browser tests' Playwright (sync API,
    session-scoped) keeps an event loop running on the main thread, where `asyncio.run`
    refuses to start when the whole suite runs in one process."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


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


@pytest.fixture
def open_page(app_path: str) -> Callable[[str], AppTest]:
    """Run app.py, switch to a page (path under pages/), check it ran without an exception."""

    def run(page: str) -> AppTest:
        at = AppTest.from_file(app_path, default_timeout=120)
        at.run()
        at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance for the tests of the Ray backend (marked e2e: it starts Ray's
    processes), started on first use. Never shut down by hand: an actor handle freed after
    `ray.shutdown()` ends the whole process (Ray's core worker exits); Ray's own exit hook
    stops the instance when pytest ends."""
    ray = pytest.importorskip("ray")
    from cnnviz.jobs import ray_backend

    if not ray.is_initialized():
        ray.init(
            address="local",  # a new instance, whatever /tmp/ray says of an old one
            num_cpus=2,
            include_dashboard=False,
            namespace=ray_backend.NAMESPACE,
            object_store_memory=100 * 2**20,
            log_to_driver=False,
        )
    return ray
