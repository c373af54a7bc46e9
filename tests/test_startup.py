"""`python -m server` on the embedded defaults, exactly as the README tells a newcomer to run it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(cwd: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.Popen([sys.executable, "-m", "server", "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output


def test_first_start_creates_var_migrates_and_prints_admin_password_once(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_ready(port, proc)
        assert (tmp_path / "var" / "vets.sqlite3").exists()
        response = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert response.json()["status"] == "ok"
    finally:
        output = _stop(proc)
    match = re.search(r"username=admin one-time password=(\S+)", output)
    assert match, output
    password = match.group(1)

    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_ready(port, proc)
        login = httpx.post(f"http://127.0.0.1:{port}/api/staff/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
    finally:
        second_output = _stop(proc)
    assert "one-time password" not in second_output
