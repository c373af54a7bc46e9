"""`python -m server` as a subprocess, the one way tests start it: its own session (Sanic's manager kills its
process group when start-up fails), output to a log file (a pipe nobody reads fills up and stalls the
workers), ready when /readyz says so, stopped with SIGTERM as in production (SIGKILL to the group after a
grace period). Secrets for the "test" environment come from tests/server_env.secret_env()."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**settings: str) -> dict[str, str]:
    """This process's environment without any VETS_ setting, running this tree's code, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.update(settings)
    return env


def start_server(*, cwd: Path, env: dict[str, str], port: int, workers: int | None = None, log_file: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    log = (log_file or cwd / "server.log").open("w")
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen[str], *, log_file: Path, timeout: float = 180) -> None:
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
    raise AssertionError(f"server did not become ready within {timeout:.0f} s: {log_file.read_text()[-4000:]}")


async def wait_ready_async(base: str, proc: subprocess.Popen[str], *, log_file: Path, timeout: float = 240) -> None:
    """wait_ready for tests whose own event loop must keep running meanwhile."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {log_file.read_text()}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"server did not become ready within {timeout:.0f} s: {log_file.read_text()[-4000:]}")


def stop_server(proc: subprocess.Popen[str], *, grace: float = 30) -> float:
    """SIGTERM to the main process (it stops its workers); SIGKILL to the whole group after ``grace``.
    Returns the seconds the server took to exit."""
    started = time.monotonic()
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    except ProcessLookupError:
        pass
    return time.monotonic() - started
