"""`python -m server` on the embedded defaults, exactly as the README tells a newcomer to run it, and its refusal
to start on a broken subscribe-message template."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.server_process import PROJECT_ROOT, free_port, server_env, start_server, stop_server, wait_ready


def _run(cwd: Path) -> tuple[str, subprocess.Popen[str], Path]:
    # Exactly as a newcomer runs it: no VETS_ settings at all (development, SQLite, in-process store).
    port = free_port()
    log_file = cwd / f"server-{port}.log"
    return f"http://127.0.0.1:{port}", start_server(cwd=cwd, env=server_env(), port=port, log_file=log_file), log_file


def test_first_start_creates_var_migrates_and_prints_admin_password_once(tmp_path: Path) -> None:
    base, proc, log_file = _run(tmp_path)
    try:
        wait_ready(base, proc, log_file=log_file)
        assert (tmp_path / "var" / "vets.sqlite3").exists()
        response = httpx.get(f"{base}/healthz")
        assert response.json()["status"] == "ok"
    finally:
        stop_server(proc)
    output = log_file.read_text()
    match = re.search(r"username=admin one-time password=(\S+)", output)
    assert match, output
    password = match.group(1)

    base, proc, log_file = _run(tmp_path)
    try:
        wait_ready(base, proc, log_file=log_file)
        login = httpx.post(f"{base}/api/staff/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
    finally:
        stop_server(proc)
    assert "one-time password" not in log_file.read_text()


def test_a_broken_template_file_stops_the_start_with_its_name_and_problem(tmp_path: Path) -> None:
    """The templates are read from the tree beside server/: a copy of the code with one broken file."""
    tree = tmp_path / "tree"
    shutil.copytree(PROJECT_ROOT / "server", tree / "server", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_ROOT / "mp_templates", tree / "mp_templates")
    for package in ("models", "face"):
        (tree / package).symlink_to(PROJECT_ROOT / package)
    broken = tree / "mp_templates" / "booking_confirmed.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("type: thing\n", "type: thingy\n", 1), encoding="utf-8")
    env = {**server_env(), "PYTHONPATH": str(tree)}

    run = subprocess.run([sys.executable, "-m", "server", "--port", str(free_port())], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert run.returncode == 2, run.stdout + run.stderr
    assert "refusing to start: invalid subscribe-message templates" in run.stderr
    assert "booking_confirmed.yaml" in run.stderr and "thingy" in run.stderr
    # Nothing was started or created: the check runs before migrations.
    assert not (tmp_path / "var").exists()
