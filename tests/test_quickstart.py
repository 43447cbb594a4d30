"""The README's quick start, as a user runs it: a zero-set-up server in the default `user` mode on the
embedded database, the printed one-time admin password, a token minted by the CLI while the server
runs, and the curl calls that use it."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from novamem.storage.embedded import EmbeddedPostgres
from tests.conftest import free_port, wait_for


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    env.update(NOVAMEM_DATA_DIR=str(data_dir), NOVAMEM_PORT=str(port), NOVAMEM_JOBS_ENABLED="false")
    return env


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "novamem", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{env['NOVAMEM_PORT']}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    assert wait_for(ready, timeout=120, every=0.2) and proc.poll() is None, log.read_text()
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_first_run_prints_a_one_time_admin_password_and_a_cli_token_works(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path / "data", port)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = _serve(env, log)
    try:
        printed = log.read_text()
        found = re.search(r"email:\s+(\S+)\s+password:\s+(\S+)", printed)
        assert found, printed
        email, password = found.groups()
        assert email == "admin@localhost"
        # the generated cookie secret is private to the data directory's owner
        secret_file = tmp_path / "data" / "cookie-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600 and len(secret_file.read_text().strip()) >= 43
        # anonymous calls are refused in the default mode
        assert httpx.post(f"{base}/v1/search", json={"query": "x"}).status_code == 401

        minted = subprocess.run(
            [sys.executable, "-m", "novamem", "token", "create", "--email", email, "--label", "laptop"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        assert token.startswith("nm_") and token not in minted.stderr
        headers = {"authorization": f"Bearer {token}"}
        # the CLI used the running server's database and left it running
        r = httpx.post(
            f"{base}/v1/remember",
            headers=headers,
            json={"content": "The staging database listens on port 5433", "namespace": "infra"},
            timeout=30,
        )
        assert r.status_code == 201 and r.json()["id"], r.text
        found_ids = [
            hit["id"]
            for hit in httpx.post(
                f"{base}/v1/search", headers=headers, json={"query": "which port does staging use?"}, timeout=30
            ).json()["results"]
        ]
        assert found_ids[:1] == [r.json()["id"]]

        signed = httpx.post(f"{base}/api/auth/sign-in/email", json={"email": email, "password": password}, timeout=30)
        assert signed.status_code == 200 and signed.json()["user"]["mustChangePassword"] is True
    finally:
        _stop(proc)
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists(), "the server stops its PostgreSQL on exit"

    # a second start keeps the admin and the secret, and prints no new password
    proc = _serve(env, tmp_path / "again.log")
    try:
        time.sleep(0.5)
        assert "password:" not in (tmp_path / "again.log").read_text()
        ok = httpx.post(f"{base}/v1/recent", headers=headers, json={}, timeout=30)
        assert ok.status_code == 200 and len(ok.json()["results"]) == 1
    finally:
        _stop(proc)
        EmbeddedPostgres(tmp_path / "data").stop_if_running()
