"""bench/classroom.py at a small size (2 students, a trainer and an attribution at once, on
one process and, with nginx, on two behind it): it runs to its end with no error. Timings
are the benchmark's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import run_multi

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PAGES = ("Home: page", "VGG: page", "Receptive fields: page", "Transfer learning: page",
         "Explain: page (3 attributions)")  # fmt: skip


def test_a_small_class_runs_without_errors(tmp_path: Path) -> None:
    figures = tmp_path / "classroom.json"
    small = ["--sessions", "2", "--trainers", "1", "--attributions", "1"]
    small += ["--processes", "1,2", "--cold"]
    command = [sys.executable, "bench/classroom.py", *small, "--json", str(figures)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(figures.read_text())
    expected = [1, 2] if run_multi.nginx_binary() else [1]
    assert [r["processes"] for r in results] == expected
    if len(expected) == 1:
        assert "skipped: nginx is missing" in done.stdout
    for r in results:
        where = f"{r['processes']} process(es)"
        assert r["errors"] == [], where
        assert r["dropped_websockets"] == 0 and r["tracebacks"] == 0, where
        assert all(len(r["times"].get(page, [])) >= 1 for page in PAGES), (where, r["times"])
        assert len(r["times"]["VGG: page"]) == 2  # both students got there
        assert len(r["jobs"]) == 1  # the trainer's run finished
        assert r["views"] == 2 * 5 + 1 + 1
