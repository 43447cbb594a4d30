"""deploy/helm/novamem through Helm itself: `helm lint --strict` and `helm template` with several value
sets, then the rendered manifests checked (probes, security context, secrets by reference only, pinned
image, replicas, PDB, hook Job running `novamem migrate`, optional Ingress with TLS).

Helm comes from a `helm` binary on PATH when there is one, else from the `helm-python-sdk` package (Helm's
own Go SDK as a library, a dev dependency); with neither, every test here is skipped and says why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import CHART, settings_variables

DATABASE = {"database": {"url": "postgresql://novamem:pw@db.internal:5432/novamem"}}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|DATABASE_URL|FALKORDB_URL")


class RenderFailed(Exception):
    """Helm refused the chart or the values."""


class Helm:
    """`helm lint` and `helm template` through whichever Helm this machine has."""

    def __init__(self, tmp: Path) -> None:
        self.binary = shutil.which("helm")
        self.tmp = tmp
        if self.binary is None:
            try:
                import helm_python
            except ImportError:
                pytest.skip(
                    "helm not available: no `helm` on PATH and the helm-python-sdk package is not installed "
                    "(scripts/setup installs it from requirements.lock); helm lint/template NOT run"
                )
            self.sdk = helm_python

    def _values_file(self, values: dict[str, Any]) -> Path:
        path = self.tmp / f"values-{len(list(self.tmp.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(values))
        return path

    def lint(self, values: dict[str, Any]) -> list[str]:
        """Problems `helm lint --strict` reports (warnings and errors; info lines are not problems)."""
        if self.binary:
            done = subprocess.run(
                [self.binary, "lint", "--strict", str(CHART), "-f", str(self._values_file(values))],
                capture_output=True,
                text=True,
            )
            return [] if done.returncode == 0 else [done.stdout + done.stderr]
        report = self.sdk.lint(CHART, values, strict=True)
        return [m["error"] for m in report["messages"] if m["severity"] >= 2] + list(report.get("errors") or [])

    def template(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """The manifests `helm template` renders (release `nm`, namespace `memory`)."""
        if self.binary:
            done = subprocess.run(
                [self.binary, "template", "nm", str(CHART), "-n", "memory", "-f", str(self._values_file(values))],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RenderFailed(done.stderr)
            texts = [done.stdout]
        else:
            try:
                with self.sdk.Chart.load(CHART) as chart:
                    rendered = chart.render(values, name="nm", namespace="memory", is_install=True)
            except self.sdk.HelmError as exc:
                raise RenderFailed(str(exc)) from exc
            texts = [text for path, text in rendered.items() if path.endswith((".yaml", ".yml"))]
        parts = [part for text in texts for part in re.split(r"^---\s*$", text, flags=re.MULTILINE)]
        return [doc for doc in map(yaml.safe_load, parts) if doc]


@pytest.fixture
def helm(tmp_path: Path) -> Helm:
    return Helm(tmp_path)


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def _kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def _containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc["kind"], container


ALL_ON = {
    "ingress": {"enabled": True, "className": "nginx"},
    "qdrant": {"enabled": True, "apiKey": "q" * 40},
    "falkordb": {"enabled": True, "url": "redis://:pw@falkordb:6379"},
}
EXISTING = {
    "database": {"existingSecret": "pg-credentials", "existingSecretKey": "url"},
    "cookieSecret": {"existingSecret": "novamem-cookie"},
}


@pytest.mark.parametrize("values", [DATABASE, _merge(DATABASE, ALL_ON), EXISTING], ids=["minimal", "all", "existing"])
def test_helm_lint_passes_strict(helm: Helm, values: dict[str, Any]) -> None:
    assert helm.lint(values) == []


def test_the_deployment_runs_replicas_with_probes_resources_and_no_root(helm: Helm) -> None:
    docs = helm.template(DATABASE)
    (deployment,) = _kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/live"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/var/lib/novamem"}
    env = {e["name"]: e for e in container["env"]}
    assert env["NOVAMEM_REQUIRE_EXTERNAL_DATABASE"]["value"] == "1"
    assert env["NOVAMEM_HOST"]["value"] == "0.0.0.0"


def test_images_are_pinned_and_latest_is_refused(helm: Helm) -> None:
    for _, container in _containers(helm.template(_merge(DATABASE, ALL_ON))):
        repository, tag = container["image"].rsplit(":", 1)
        assert repository == "novamem" and re.fullmatch(r"\d+\.\d+\.\d+", tag)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["appVersion"])
    with pytest.raises(RenderFailed, match="pinned version"):
        helm.template(_merge(DATABASE, {"image": {"tag": "latest"}}))


def test_every_variable_is_a_setting_and_secrets_come_only_from_secrets(helm: Helm) -> None:
    known = settings_variables()
    for values in (DATABASE, _merge(DATABASE, ALL_ON), EXISTING):
        for kind, container in _containers(helm.template(values)):
            for item in container["env"]:
                name = item["name"]
                assert name in known, f"{kind}: {name} is not read by Settings"
                if SECRET_NAME.search(name):
                    assert "value" not in item, f"{kind}: {name} is inline"
                    assert item["valueFrom"]["secretKeyRef"]["name"], name


def test_the_chart_secret_holds_the_url_and_a_generated_cookie_secret(helm: Helm) -> None:
    (secret,) = _kind(helm.template(DATABASE), "Secret")
    assert set(secret["data"]) == {"database-url", "cookie-secret"}
    with pytest.raises(RenderFailed, match="database.url"):
        helm.template({})


def test_existing_secrets_are_referenced_not_copied(helm: Helm) -> None:
    docs = helm.template(EXISTING)
    assert _kind(docs, "Secret") == []
    (deployment,) = _kind(docs, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NOVAMEM_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "pg-credentials", "key": "url"}
    cookie = env["NOVAMEM_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert cookie == {"name": "novamem-cookie", "key": "cookie-secret"}


def test_service_pdb_service_account_and_migration_hook(helm: Helm) -> None:
    docs = helm.template(DATABASE)
    (service,) = _kind(docs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (pdb,) = _kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2
    assert _kind(docs, "ServiceAccount")
    (job,) = _kind(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["novamem", "migrate"]
    assert _kind(docs, "Ingress") == []
    single = helm.template(_merge(DATABASE, {"replicaCount": 1}))
    assert _kind(single, "PodDisruptionBudget") == [], "no PDB that would block every eviction of one pod"


def test_ingress_with_tls_and_the_optional_stores(helm: Helm) -> None:
    docs = helm.template(_merge(DATABASE, ALL_ON))
    (ingress,) = _kind(docs, "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "novamem-tls"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (deployment,) = _kind(docs, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NOVAMEM_VECTOR_STORE"]["value"] == "qdrant"
    assert env["NOVAMEM_GRAPH_STORE"]["value"] == "falkordb"
    (secret,) = _kind(docs, "Secret")
    assert set(secret["data"]) == {"database-url", "cookie-secret", "qdrant-api-key", "falkordb-url"}
