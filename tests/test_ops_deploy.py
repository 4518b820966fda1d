"""deploy/: the Kubernetes base (validated with kubernetes-validate --strict, built with kustomize), the compose
file, the Dockerfile (statically, then its command run with its defaults as a non-root user on a fresh data
directory), and the hardened systemd unit (systemd-analyze verify).

No container engine runs here, so the image itself is not built; what the image would run is run.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from cds_service.settings import Settings
from tests.conftest import REPO
from tests.support.auth_tokens import EHR_ISS, es384_key, write_clients
from tests.support.ops_server import AS_NOBODY, CLI, NOBODY, can_run_as_nobody, free_port, running, service_env

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes release still in wide support; the manifests use nothing newer
SETTING_NAMES = {f"CDS_{name.upper()}" for name in Settings.model_fields}


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict[str, Any]:
    found = [doc for path in manifests() for doc in documents(path) if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


# Kubernetes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", manifests(), ids=lambda p: p.name)
def test_every_manifest_validates_strictly(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_refuses_an_unknown_field() -> None:
    deployment = by_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # misspelled
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in manifests()} - {"secret.example.yaml"}
    for generator in kustomization.get("configMapGenerator", []):
        for name in generator["files"]:
            assert (K8S / name).is_file(), name


def test_kustomization_builds_and_its_output_validates() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed; the resource list is checked above")
    built = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=True).stdout
    docs = [doc for doc in yaml.safe_load_all(built) if doc]
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == sorted(["ConfigMap", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
                            "PodDisruptionBudget", "Job"])
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    # The generated trusted-clients ConfigMap (its name carries a hash) is the one the Deployment mounts.
    generated = next(d["metadata"]["name"] for d in docs if d["metadata"]["name"].startswith("cds-service-trusted"))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["trusted-clients"]["configMap"]["name"] == generated
    json.loads(next(d for d in docs if d["metadata"]["name"] == generated)["data"]["trusted-clients.json"])


def test_deployment_probes_resources_and_security() -> None:
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    # The read-only root needs a writable /tmp for the workers' metrics files.
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert by_kind("Service")["spec"]["selector"].items() <= labels.items()
    assert by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_job_runs_the_migrations_with_the_same_settings() -> None:
    job = by_kind("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["cds-service", "db", "upgrade"]
    (deployment_container,) = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == deployment_container["envFrom"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_settings_and_secret_names_exist() -> None:
    config_map, secret = by_kind("ConfigMap"), by_kind("Secret")
    names = set(config_map["data"]) | set(secret["stringData"])
    assert names <= SETTING_NAMES, names - SETTING_NAMES
    assert {"CDS_DATABASE_URL", "CDS_PATIENT_HASH_KEY"} <= set(secret["stringData"])
    env_from = by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {e.get("configMapRef", {}).get("name") for e in env_from} >= {config_map["metadata"]["name"]}
    assert {e.get("secretRef", {}).get("name") for e in env_from} >= {secret["metadata"]["name"]}


# compose -------------------------------------------------------------------------------------------------------


def test_compose_runs_migrations_before_the_service_on_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "cds"}
    assert re.fullmatch(r"postgres:\d+\.\d+.*", services["db"]["image"])
    assert services["migrate"]["command"] == ["cds-service", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["cds"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["cds"]["environment"]["CDS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "/readyz" in " ".join(services["cds"]["healthcheck"]["test"])
    assert set(services["cds"]["environment"]) <= SETTING_NAMES
    assert services["migrate"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_env_example_names_only_settings() -> None:
    names = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "cds-service.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert names <= SETTING_NAMES, names - SETTING_NAMES


# Dockerfile ----------------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile():
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def dockerfile_cmd() -> list[str]:
    return json.loads(next(rest for keyword, rest in dockerfile() if keyword == "CMD"))


def test_dockerfile_is_pinned_non_root_and_installs_from_the_lock() -> None:
    instructions = dockerfile()
    keywords = [keyword for keyword, _ in instructions]
    base = next(rest for keyword, rest in instructions if keyword == "FROM")
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    user = next(rest for keyword, rest in instructions if keyword == "USER")
    assert user.split(":")[0] not in ("root", "0")
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "--require-hashes" in runs and "requirements.lock" in runs
    assert "install -d -o cds -g cds" in runs and "/var/lib/cds-service" in runs
    # The data directory is made (and owned) before VOLUME: a fresh volume copies that ownership.
    assert keywords.index("VOLUME") > keywords.index("RUN")
    assert "HEALTHCHECK" in keywords and "/healthz" in next(r for k, r in instructions if k == "HEALTHCHECK")
    for keyword, rest in instructions:
        if keyword == "COPY":
            for source in shlex.split(rest)[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"


def test_image_defaults_start_as_a_non_root_user_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """The image's CMD with its ENV, as a non-root user, on a fresh data directory owned by that user (what
    the Dockerfile's `install -d -o cds` gives a new volume). Only the trusted clients file is supplied, as a
    deployment mounts it; the paths of the image are mapped into tmp_path."""
    if not can_run_as_nobody():
        pytest.skip("needs root and setpriv to run as another, unprivileged user")
    data = tmp_path / "var-lib-cds-service"
    data.mkdir(mode=0o700)
    shutil.chown(data, NOBODY, NOBODY)
    tmp_path.chmod(0o755)
    clients = write_clients(tmp_path / "trusted-clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    clients.chmod(0o644)
    image_env = dockerfile_env()
    assert image_env["CDS_AUTH_MODE"] == "required"
    paths = {"/var/lib/cds-service": str(data), image_env["CDS_TRUSTED_CLIENTS"]: str(clients)}
    env = service_env(**{name: _mapped(value, paths) for name, value in image_env.items()})
    port = free_port()
    command = dockerfile_cmd()
    assert command[:2] == ["cds-service", "serve"]
    args = [_mapped(arg, {"0.0.0.0": "127.0.0.1", "8080": str(port)}) for arg in command[1:]]
    with running([*AS_NOBODY, *CLI, *args], f"http://127.0.0.1:{port}", env, tmp_path / "serve.log", cwd=data) as served:
        ready = httpx.get(f"{served.base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        healthcheck = next(rest for keyword, rest in dockerfile() if keyword == "HEALTHCHECK")
        probe = json.loads(healthcheck.split(" CMD ", 1)[1])
        probe = [_mapped(arg, {"8080": str(port)}) for arg in probe]
        assert probe[0] == "python"
        assert subprocess.run([shutil.which("python3") or "python3", *probe[1:]], check=False, timeout=30).returncode == 0
    database = data / "cds-service.db"
    assert database.stat().st_uid == NOBODY
    lines = served.log_lines()
    assert all(isinstance(json.loads(line), dict) for line in lines)  # the image logs JSON


def _mapped(value: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        value = value.replace(old, new)
    return value


# systemd -------------------------------------------------------------------------------------------------------


def test_systemd_unit_is_hardened() -> None:
    unit = (DEPLOY / "cds-service.service").read_text()
    directives = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert directives["ProtectSystem"] == "strict"
    assert directives["PrivateTmp"] == "yes"
    assert directives["NoNewPrivileges"] == "yes"
    assert directives["StateDirectory"] == "cds-service"
    assert directives["UMask"] == "0077"
    assert int(directives["LimitNOFILE"]) >= 4096


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # verify also checks that ExecStart's program exists: point it at this venv's cds-service.
    installed = Path(CLI[0]).with_name("cds-service")
    unit = (DEPLOY / "cds-service.service").read_text().replace("/opt/cds-service/bin/cds-service", str(installed))
    (tmp_path / "cds-service.service").write_text(unit)
    result = subprocess.run([analyze, "verify", str(tmp_path / "cds-service.service")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "cds-service.service" not in result.stderr, result.stderr


# Lock files ----------------------------------------------------------------------------------------------------


def _locked(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", path.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group(0)).lower() for r in requirements}


def test_lock_files_pin_every_dependency_with_hashes() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime, test = _locked(REPO / "requirements.lock"), _locked(REPO / "requirements-test.lock")
    assert _requirement_names(project["dependencies"]) <= set(runtime), "run `make lock`"
    assert _requirement_names(project["optional-dependencies"]["test"]) <= set(test), "run `make lock`"
    assert "setuptools" in runtime  # the build backend, so the image builds the package from the lock alone
    for path in (REPO / "requirements.lock", REPO / "requirements-test.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", path.read_text().split("\n\n", 1)[-1])
        assert all("--hash=sha256:" in block for block in blocks if "==" in block), path.name
    # Both environments get the same versions of what they share.
    assert all(test[name] == version for name, version in runtime.items() if name in test)


def test_make_targets_install_from_the_lock_into_separate_environments() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "-r requirements.lock" in makefile and "-r requirements-test.lock" in makefile
    serve_venv = re.search(r"^SERVE_VENV := (\S+)", makefile, re.MULTILINE).group(1)
    test_venv = re.search(r"^TEST_VENV := (\S+)", makefile, re.MULTILINE).group(1)
    assert serve_venv != test_venv
    assert re.search(r"^lock:", makefile, re.MULTILINE)
    assert "make test" in (REPO / ".ci" / "run").read_text()
