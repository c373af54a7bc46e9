"""An override saved through one worker of a four-worker server is in force in every worker at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_REDIS_URL
from tests.test_startup import PROJECT_ROOT, _free_port

pytestmark = pytest.mark.skipif(not TEST_REDIS_URL, reason="four workers share sessions and the calendar version through Redis: set VETS_TEST_REDIS_URL")

ADMIN_PASSWORD = "calendar-Admin-2026!"
WORKERS = 4


def _start_workers(cwd: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        VETS_REDIS__URL=str(TEST_REDIS_URL),
        VETS_REDIS__KEY_PREFIX=f"vets-workers-{uuid.uuid4().hex[:8]}:",
        VETS_ADMIN_PASSWORD=ADMIN_PASSWORD,
        VETS_FACE__ENABLED="false",
        VETS_RUN_BACKGROUND_JOBS="false",
    )
    # Logs go to a file: a pipe nobody reads fills up and stalls the workers.
    log = (cwd / "server.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "server", "--port", str(port), "--workers", str(WORKERS)], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """The server runs in its own session: stop the main process and its workers, whatever state they are in."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    except ProcessLookupError:
        pass


def _wait_ready(base: str, proc: subprocess.Popen[str], log_file: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log_file.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("server did not become ready")


def _answers_per_worker(base: str, headers: dict[str, str], *, seconds: float = 120) -> dict[int, set[str]]:
    """Ask each worker: a fresh connection per round, the pid from /healthz (X-Worker), then the deadline on
    the same (kept-alive) connection, so both answers come from one process. The kernel hands connections to
    whichever worker accepts first, so keep asking until all four have answered a few times (or time is up)."""
    answers: dict[int, list[str]] = {}
    stop = time.monotonic() + seconds
    while time.monotonic() < stop and not (len(answers) == WORKERS and min(len(a) for a in answers.values()) >= 3):
        with httpx.Client(base_url=base, timeout=60) as http:
            pid = int(http.get("/healthz").headers["x-worker"])
            due = http.get("/api/calendar/deadline", params={"start": "2026-12-31", "working_days": 1}, headers=headers).json()["due"]
        answers.setdefault(pid, []).append(due)
    return {pid: set(dues) for pid, dues in answers.items()}


def test_an_override_changes_the_deadline_in_every_worker_without_a_restart(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start_workers(tmp_path, port)
    try:
        _wait_ready(base, proc, tmp_path / "server.log")
        login = httpx.post(f"{base}/api/staff/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10)
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}

        before = _answers_per_worker(base, headers)
        assert len(before) == WORKERS, before
        # 1 January is New Year's Day and 2-3 January a weekend on the provisional 2027 calendar.
        assert all(due == {"2027-01-04"} for due in before.values()), before

        saved = httpx.put(f"{base}/api/calendar/overrides", headers=headers, json={"day": "2027-01-02", "is_working_day": True, "note": "调休上班"}, timeout=10)
        assert saved.status_code == 200, saved.text

        after = _answers_per_worker(base, headers)
        assert len(after) == WORKERS, after
        assert all(due == {"2027-01-02"} for due in after.values()), after
    finally:
        _stop_group(proc)
