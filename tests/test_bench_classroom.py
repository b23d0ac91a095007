"""bench/classroom.py's counting, without a browser: which runs a tab's websocket carries count
as the run an action started, and what nginx's logs (in deploy/nginx.conf's own log format)
say went wrong."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from cnnviz.jobs import JobState, Progress
from cnnviz.ui.jobs import status_line
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import appdriver
import classroom

FINISHED = ForwardMsg.ScriptFinishedStatus


def finished(status: int) -> bytes:
    message = ForwardMsg()
    message.script_finished = status
    return message.SerializeToString()


def rerun(auto: bool) -> bytes:
    message = BackMsg()
    message.rerun_script.is_auto_rerun = auto
    return message.SerializeToString()


def test_a_fragment_timer_run_is_not_the_run_a_click_started() -> None:
    runs = appdriver.AppRuns()
    runs._received(finished(FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY))
    runs._received(finished(FINISHED.FINISHED_EARLY_FOR_RERUN))
    assert (runs.finished, runs.fragment_runs) == (0, 1)
    runs._received(finished(FINISHED.FINISHED_SUCCESSFULLY))
    runs._received(finished(FINISHED.FINISHED_WITH_COMPILE_ERROR))
    runs._received("a text frame")
    assert (runs.finished, runs.fragment_runs) == (2, 1)


def test_only_the_pages_own_rerun_requests_count_not_a_timers() -> None:
    runs = appdriver.AppRuns()
    runs._sent(rerun(auto=True))
    assert runs.requested == 0
    runs._sent(rerun(auto=False))
    heartbeat = BackMsg()
    heartbeat.app_heartbeat = True
    runs._sent(heartbeat.SerializeToString())
    assert runs.requested == 1


def test_a_lost_click_is_told_from_an_unanswered_request() -> None:
    assert classroom.error_kind(appdriver.LostAction(30, sent=False)) == "lost click"
    unanswered = appdriver.LostAction(180, sent=True)
    assert classroom.error_kind(unanswered) == "no run after a rerun request"
    assert "never finished" in str(unanswered)
    assert classroom.error_kind(TimeoutError("x")) == "timeout"


def done(elapsed: float) -> str:
    """The job panel's line for a finished job, as the page writes it."""
    progress = Progress(JobState.DONE, 5, 5, [], "", elapsed=elapsed, eta=None)
    return status_line(progress)


@pytest.mark.parametrize(
    ("elapsed", "shown_s"),
    [(0.2, 0.2), (4.0, 4), (12.4, 12), (59.6, 60), (65.0, 65), (3599.0, 3599), (3725.0, 3720)],
)
def test_the_run_time_is_read_from_the_panels_finished_line(elapsed, shown_s) -> None:
    """Every form of cnnviz.notation.duration reads back (an hour: to the minute, as shown)."""
    page = f"3. Training\nTrain\n{done(elapsed)}\nloss\n4. Results\nAccuracy"
    assert classroom.finished_seconds(page) == shown_s


def test_no_finished_line_is_no_run_time() -> None:
    still = "step 3 of 5, 2 s so far, about 1 s left.\n4. Results"
    assert math.isnan(classroom.finished_seconds(still))
    assert math.isnan(classroom.finished_seconds("Stopped after 4 s."))


def test_results_alone_do_not_end_the_wait_for_the_job() -> None:
    """The page may show "4. Results" while its panel still shows the running line (a panel
    fragment's rerun dropped the full run's panel): the wait asks for the finished line too."""
    assert classroom.RESULTS in classroom.JOB_DONE
    assert done(2.0).startswith(classroom.FINISHED) and classroom.FINISHED in classroom.JOB_DONE


def log_line(request: str, status: int, route: str, upstream: str) -> str:
    """One access-log line as deploy/nginx.conf's `log_format cnnviz` writes it."""
    template = (ROOT / "deploy" / "nginx.conf").read_text()
    spec = re.search(r"log_format cnnviz ((?:'[^']*'\s*)+);", template).group(1)
    line = "".join(re.findall(r"'([^']*)'", spec))
    values = {
        "$time_local": "26/Nov/2026:01:09:47 +0000",
        "$request": request,
        "$status": str(status),
        "$cnnviz_route": route,
        "$upstream_addr": upstream,
        "$upstream_status": str(status),
        "$request_time": "29.945",
    }
    for name in sorted(values, key=len, reverse=True):  # $upstream_addr before $upstream...
        line = line.replace(name, values[name])
    assert "$" not in line, line  # every variable of the format is known here
    return line


def test_nginx_findings_from_its_own_log_format(tmp_path: Path) -> None:
    a, b = "127.0.0.1:8502", "127.0.0.1:8503"
    lines = [
        log_line("GET /vgg HTTP/1.1", 200, "r1", a),
        log_line("GET /_stcore/stream HTTP/1.1", 101, "r1", a),
        log_line("GET /_stcore/stream HTTP/1.1", 101, "r2", b),
        log_line("GET /_stcore/health HTTP/1.1", 502, "r2", b),
        # tried on a, then sent to b (nginx's failover): the session is on neither, now
        log_line("GET /_stcore/stream HTTP/1.1", 101, "r3", f"{a}, {b}"),
        log_line("GET /favicon.png HTTP/1.1", 499, "r4", "-"),
    ]
    (tmp_path / "access.log").write_text("\n".join(lines) + "\n")
    (tmp_path / "error.log").write_text(
        "2026/11/26 01:08:52 [warn] 1#1: *5 an upstream response is buffered\n"
        "2026/11/26 01:09:52 [alert] 1#1: 1024 worker_connections are not enough\n"
    )
    found = classroom.proxy_findings(tmp_path)
    assert [kind for kind, _ in found] == ["proxy 502", "route on two processes", "proxy error log"]
    assert found[1][1] == f"r3: {sorted([a, b])}"
    assert "worker_connections" in found[2][1]


def test_no_nginx_logs_no_findings(tmp_path: Path) -> None:
    assert classroom.proxy_findings(tmp_path) == []
