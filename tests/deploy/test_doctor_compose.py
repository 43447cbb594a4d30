"""`novamem doctor --compose DIR`: the container items of the hardening checklist, on the shipped Compose
deployment (with a .env from make-secrets) and on copies broken one way at a time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from novamem.cli.doctor_compose import compose_checks
from novamem.cli.findings import Finding
from novamem.cli.main import main
from tests.deploy.manifests import COMPOSE

CONTAINER_ITEMS = [
    "compose .env",
    "image tags pinned",
    "datastore ports",
    "Qdrant snapshots",
    "FalkorDB persistence",
]


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    """A copy of deploy/compose with a real .env, every optional store enabled."""
    target = tmp_path / "compose"
    shutil.copytree(COMPOSE, target, ignore=shutil.ignore_patterns(".env"))
    subprocess.run(
        [sys.executable, str(target / "make-secrets"), "--host", "localhost"], check=True, capture_output=True
    )
    with (target / ".env").open("a") as env:
        env.write("COMPOSE_PROFILES=qdrant,falkordb\n")
    return target


def _by_name(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def _edit(directory: Path, change: Any) -> None:
    path = directory / "docker-compose.yml"
    data = yaml.safe_load(path.read_text())
    change(data["services"])
    path.write_text(yaml.safe_dump(data))


def test_the_shipped_deployment_passes_every_container_item(deployment: Path) -> None:
    found = _by_name(compose_checks(deployment))
    assert list(found) == CONTAINER_ITEMS
    assert {name: f.status for name, f in found.items()} == dict.fromkeys(CONTAINER_ITEMS, "pass")
    assert "snapshots kept in a volume at /qdrant/snapshots" in found["Qdrant snapshots"].detail
    assert "/data" in found["FalkorDB persistence"].detail


def test_a_missing_or_readable_env_fails(deployment: Path) -> None:
    os.chmod(deployment / ".env", 0o644)
    finding = _by_name(compose_checks(deployment))["compose .env"]
    assert finding.status == "fail" and "mode 0644" in finding.detail and "chmod 600" in finding.fix
    (deployment / ".env").unlink()
    finding = _by_name(compose_checks(deployment))["compose .env"]
    assert finding.status == "fail" and "make-secrets" in finding.fix


def test_placeholder_secrets_in_env_fail(deployment: Path) -> None:
    shutil.copy(COMPOSE / ".env.example", deployment / ".env")
    os.chmod(deployment / ".env", 0o600)
    finding = _by_name(compose_checks(deployment))["compose .env"]
    assert finding.status == "fail"
    assert "POSTGRES_PASSWORD" in finding.detail and "NOVAMEM_COOKIE_SECRET" in finding.detail


def test_latest_or_untagged_images_fail(deployment: Path) -> None:
    def unpin(services: dict[str, Any]) -> None:
        services["qdrant"]["image"] = "qdrant/qdrant:latest"
        services["caddy"]["image"] = "caddy"

    _edit(deployment, unpin)
    finding = _by_name(compose_checks(deployment))["image tags pinned"]
    assert finding.status == "fail"
    assert "qdrant (qdrant/qdrant:latest)" in finding.detail and "caddy (caddy)" in finding.detail


def test_a_published_datastore_port_fails(deployment: Path) -> None:
    _edit(deployment, lambda services: services["postgres"].update(ports=["5432:5432"]))
    finding = _by_name(compose_checks(deployment))["datastore ports"]
    assert finding.status == "fail" and "postgres" in finding.detail


def test_qdrant_snapshots_outside_a_volume_fail(deployment: Path) -> None:
    _edit(deployment, lambda services: services["qdrant"].update(volumes=["qdrant-storage:/qdrant/storage"]))
    finding = _by_name(compose_checks(deployment))["Qdrant snapshots"]
    assert finding.status == "fail" and "/qdrant/snapshots" in finding.detail


def test_falkordb_without_persistence_fails(deployment: Path) -> None:
    _edit(deployment, lambda services: services["falkordb"]["environment"].update(REDIS_ARGS="--requirepass x"))
    finding = _by_name(compose_checks(deployment))["FalkorDB persistence"]
    assert finding.status == "fail" and "--appendonly" in finding.detail


def test_stores_that_are_not_enabled_are_not_required(deployment: Path) -> None:
    _edit(deployment, lambda services: [services.pop("qdrant"), services.pop("falkordb")])
    env = (deployment / ".env").read_text().replace("COMPOSE_PROFILES=qdrant,falkordb\n", "")
    (deployment / ".env").write_text(env)
    found = _by_name(compose_checks(deployment))
    assert found["Qdrant snapshots"].status == "pass" and "not enabled" in found["Qdrant snapshots"].detail
    assert found["FalkorDB persistence"].status == "pass"


def test_enabling_a_store_through_its_setting_counts_too(deployment: Path) -> None:
    env = (deployment / ".env").read_text().replace("COMPOSE_PROFILES=qdrant,falkordb\n", "")
    (deployment / ".env").write_text(env.replace("NOVAMEM_VECTOR_STORE=pgvector", "NOVAMEM_VECTOR_STORE=qdrant"))
    _edit(deployment, lambda services: services.pop("qdrant"))
    finding = _by_name(compose_checks(deployment))["Qdrant snapshots"]
    assert finding.status == "fail" and "no service runs a qdrant image" in finding.detail


def test_the_cli_adds_the_container_items_and_fails_on_them(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOVAMEM_DATA_DIR", str(tmp_path / "data"))
    main(["doctor", "--json", "--url", "http://127.0.0.1:9", "--compose", str(deployment)])
    checks = {c["check"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert all(checks[name] == "pass" for name in CONTAINER_ITEMS)
    _edit(deployment, lambda services: services["falkordb"].update(ports=["6379:6379"]))
    code = main(["doctor", "--json", "--url", "http://127.0.0.1:9", "--compose", str(deployment)])
    checks = {c["check"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert code == 1 and checks["datastore ports"] == "fail"
    assert main(["doctor", "--compose", str(tmp_path / "nowhere")]) == 1
    assert "no docker-compose.yml" in capsys.readouterr().out
