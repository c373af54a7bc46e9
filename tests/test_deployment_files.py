"""No Docker engine or cluster runs here, so the compose file's and the Kubernetes manifests' structure is
checked instead (deploy/k8s must parse and match the compose services they stand for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# Kubernetes manifests (deploy/k8s)

K8S = ROOT / "deploy" / "k8s"


def _documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return docs


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _documents() if d["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_every_document_names_its_kind_and_api_version() -> None:
    docs = _documents()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "HorizontalPodAutoscaler", "Job", "ConfigMap"}
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc


def test_deployments_run_the_compose_commands_with_resources() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    deployments = _by_kind("Deployment")
    assert set(deployments) == {"vets-web", "vets-face", "vets-worker"}
    for name, service in (("vets-web", "app"), ("vets-face", "face"), ("vets-worker", "worker")):
        container = _container(deployments[name])
        assert container["args"] == compose[service]["command"], name
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"], name
        sources = {next(iter(ref)) + ":" + next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert sources == {"configMapRef:vets-config", "secretRef:vets-secrets"}, name
        # Selector and pod labels agree, or the Deployment is refused.
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert deployments[name]["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    job = _by_kind("Job")["vets-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == compose["migrate"]["command"]


def test_http_services_have_probes_and_reach_their_pods() -> None:
    deployments = _by_kind("Deployment")
    services = _by_kind("Service")
    web = _container(deployments["vets-web"])
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    face = _container(deployments["vets-face"])
    assert face["readinessProbe"]["httpGet"]["path"] == "/healthz"
    # Web pods find the face service by the Service's name and port.
    env = {e["name"]: e["value"] for e in web["env"]}
    assert env["VETS_FACE__SERVICE_URL"] == f"http://vets-face:{services['vets-face']['spec']['ports'][0]['port']}"
    for name in ("vets-web", "vets-face"):
        selector = services[name]["spec"]["selector"]
        assert selector.items() <= deployments[name]["spec"]["template"]["metadata"]["labels"].items()
        ports = {p["name"] for p in _container(deployments[name])["ports"]}
        assert services[name]["spec"]["ports"][0]["targetPort"] in ports
    # Graceful shutdown: the pod is given longer than the server's own drain.
    assert deployments["vets-web"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > int(_by_kind("ConfigMap")["vets-config"]["data"]["VETS_SHUTDOWN_GRACE_SECONDS"])


def test_autoscalers_target_existing_deployments() -> None:
    deployments = _by_kind("Deployment")
    hpas = _by_kind("HorizontalPodAutoscaler")
    assert set(hpas) == {"vets-web", "vets-face"}
    for hpa in hpas.values():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert _container(deployments[target["name"]])["resources"]["requests"]["cpu"]  # utilisation needs a request
