"""deploy/dask/: the Dask cluster for `cds-service screen --scheduler` on Kubernetes. The PVC and the Job
validate strictly against the Kubernetes schemas; the DaskCluster custom resource has no schema there, so its
scheduler and worker Pod specs and its Service spec are validated as the Pod and Service the operator makes
from them, and its own shape (kubernetes.dask.org/v1) is checked field by field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DASK = Path(__file__).resolve().parents[1] / "deploy" / "dask"
K8S_VERSION = "1.30.0"  # as tests/test_ops_deploy.py


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DASK / name).read_text()) if d]


def _cluster() -> dict[str, Any]:
    (cluster,) = _docs("daskcluster.yaml")
    return cluster


def _as_pod(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


@pytest.mark.parametrize("name", ["work-pvc.yaml", "screen-job.yaml"])
def test_plain_manifests_validate_strictly(name: str) -> None:
    for doc in _docs(name):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_daskcluster_parts_validate_as_the_pods_and_service_the_operator_makes() -> None:
    cluster = _cluster()
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1" and cluster["kind"] == "DaskCluster"
    assert set(cluster["spec"]) == {"worker", "scheduler"}
    assert set(cluster["spec"]["worker"]) == {"replicas", "spec"}
    assert set(cluster["spec"]["scheduler"]) == {"spec", "service"}
    kubernetes_validate.validate(_as_pod(cluster["spec"]["worker"]["spec"], "worker"), K8S_VERSION, strict=True)
    kubernetes_validate.validate(_as_pod(cluster["spec"]["scheduler"]["spec"], "scheduler"), K8S_VERSION, strict=True)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "foot-screen-scheduler"},
               "spec": cluster["spec"]["scheduler"]["service"]}
    kubernetes_validate.validate(service, K8S_VERSION, strict=True)


def test_strict_validation_refuses_a_misspelled_worker_field() -> None:
    worker = copy.deepcopy(_cluster()["spec"]["worker"]["spec"])
    worker["containers"][0]["volumeMount"] = []  # misspelled
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(_as_pod(worker, "worker"), K8S_VERSION, strict=True)


def test_the_pieces_fit_together() -> None:
    cluster = _cluster()
    name = cluster["metadata"]["name"]
    (job,) = _docs("screen-job.yaml")
    (pvc,) = _docs("work-pvc.yaml")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["cds-service", "screen"]
    assert args[args.index("--scheduler") + 1] == f"tcp://{name}-scheduler:8786"  # the operator's Service name
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]  # workers on several nodes write partitions
    claims = {v["persistentVolumeClaim"]["claimName"] for spec in (cluster["spec"]["worker"]["spec"],
              job["spec"]["template"]["spec"]) for v in spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {pvc["metadata"]["name"]}
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert worker["args"][:2] == ["dask", "worker"] and worker["args"][worker["args"].index("--nthreads") + 1] == "1"
    images = {worker["image"], cluster["spec"]["scheduler"]["spec"]["containers"][0]["image"],
              job["spec"]["template"]["spec"]["containers"][0]["image"]}
    assert len(images) == 1  # workers import the service's own code: one version everywhere
    selector = cluster["spec"]["scheduler"]["service"]["selector"]
    assert selector == {"dask.org/cluster-name": name, "dask.org/component": "scheduler"}
