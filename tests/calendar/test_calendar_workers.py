"""An override saved through one worker of a four-worker server is in force in every worker at once."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_REDIS_URL
from tests.server_process import free_port, server_env, start_server, stop_server, wait_ready

pytestmark = pytest.mark.skipif(not TEST_REDIS_URL, reason="four workers share sessions and the calendar version through Redis: set VETS_TEST_REDIS_URL")

ADMIN_PASSWORD = "calendar-Admin-2026!"
WORKERS = 4


def _start_workers(cwd: Path, port: int) -> subprocess.Popen[str]:
    env = server_env(
        VETS_REDIS__URL=str(TEST_REDIS_URL),
        VETS_REDIS__KEY_PREFIX=f"vets-workers-{uuid.uuid4().hex[:8]}:",
        VETS_ADMIN_PASSWORD=ADMIN_PASSWORD,
        VETS_FACE__ENABLED="false",
        VETS_RUN_BACKGROUND_JOBS="false",
    )
    return start_server(cwd=cwd, env=env, port=port, workers=WORKERS)


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
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start_workers(tmp_path, port)
    try:
        wait_ready(base, proc, log_file=tmp_path / "server.log")
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
        stop_server(proc)
