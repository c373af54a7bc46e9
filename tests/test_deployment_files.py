"""No Docker engine runs here, so the compose file's structure is checked instead."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_and_healthchecks() -> None:
    services = _compose()["services"]
    assert {"app", "postgres", "redis", "migrate", "worker"} <= set(services)
    for name in ("postgres", "redis", "app"):
        assert "healthcheck" in services[name], name
        assert services[name]["healthcheck"]["test"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_app_waits_for_healthy_dependencies_and_migrations() -> None:
    app = _compose()["services"]["app"]
    depends = app["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert _compose()["services"]["migrate"]["command"][-1] == "migrate"


def test_app_runs_several_workers_with_redis_and_no_default_secrets() -> None:
    app = _compose()["services"]["app"]
    command = app["command"]
    workers = int(command[command.index("--workers") + 1])
    assert workers > 1
    env = app["environment"]
    assert env["VETS_REDIS__URL"].startswith("redis://")
    assert env["VETS_ENVIRONMENT"] == "production"
    for key in ("VETS_SECURITY__SESSION_KEY", "VETS_SECURITY__FIELD_KEY", "VETS_WECHAT__APP_SECRET"):
        assert env[key].startswith("${") and ":?" in env[key], key


def test_dockerfile_runs_the_server_module() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "server"' in text
    assert "pip install ." in text
    for folder in ("server", "models", "face", "mp_templates"):
        assert f"COPY {folder}" in text


def test_background_work_runs_in_the_worker_service_only() -> None:
    services = _compose()["services"]
    assert services["worker"]["command"][-1] == "worker"
    assert services["app"]["environment"]["VETS_RUN_BACKGROUND_JOBS"] == "false"
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["environment"]["VETS_REDIS__URL"].startswith("redis://")
