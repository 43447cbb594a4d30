"""The SDK installs on its own: no runtime dependencies, a wheel with `py.typed`, importable and usable on a
bare interpreter without site-packages, and a public API that matches `__all__`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import novamem_client
import pytest

from .conftest import SDK_ROOT


def test_pyproject_declares_no_runtime_dependencies() -> None:
    project = tomllib.loads((SDK_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "novamem-client"
    assert project["dependencies"] == []
    assert project["requires-python"] == ">=3.10"
    assert [d.split(">")[0] for d in project["optional-dependencies"]["obo"]] == ["cryptography"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SDK's wheel, built offline with the build backend of the dev install."""
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    built = subprocess.run([*command, str(SDK_ROOT)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("novamem_client-*.whl")
    return found


def test_the_wheel_requires_nothing_and_ships_types(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "novamem_client/py.typed" in names
    assert not any(n.startswith("novamem/") for n in names)  # none of the server
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requirements and all("extra == 'obo'" in line for line in requirements)
    assert "Requires-Python: >=3.10" in metadata


# On a bare interpreter (no site-packages at all) any third-party import would fail: the client must import
# and report a refused connection as unavailable with the standard library alone.
BARE_CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import novamem_client as nm
third = {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names) - {"novamem_client", "__main__"}
assert not third, third
try:
    nm.NovamemClient("http://127.0.0.1:9", token="nm_x", timeout=2).stats()
except nm.NovamemUnavailable as exc:
    print("unavailable", exc.retryable)
"""


def _python_310() -> str | None:
    """A working Python 3.10 (on PATH, or a pyenv install), or None."""
    candidates = [shutil.which("python3.10"), *map(str, Path.home().glob(".pyenv/versions/3.10.*/bin/python3.10"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        if probe.returncode == 0 and probe.stdout.strip() == b"(3, 10)":
            return candidate
    return None


@pytest.mark.parametrize("python", ["current", "3.10"])
def test_the_wheel_runs_on_a_bare_interpreter(wheel: Path, tmp_path: Path, python: str) -> None:
    interpreter = sys.executable if python == "current" else _python_310()
    if interpreter is None:
        pytest.skip("Python 3.10 (the oldest supported version) is not installed here")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path)
    run = subprocess.run(
        [interpreter, "-I", "-S", "-c", BARE_CHECK, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "unavailable True"


def test_the_public_names_are_exactly_all() -> None:
    public = {name for name in vars(novamem_client) if not name.startswith("_")}
    assert public | {"__version__"} == set(novamem_client.__all__)
    assert novamem_client.NovamemUnavailable.__module__ == "novamem_client"


def test_sync_and_async_clients_offer_the_same_operations() -> None:
    def operations(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_") and name != "config"}

    assert operations(novamem_client.NovamemClient) == operations(novamem_client.AsyncNovamemClient)
    assert operations(novamem_client.Management) == operations(novamem_client.AsyncManagement)
    assert operations(novamem_client.Admin) == operations(novamem_client.AsyncAdmin)
    total = sum(
        len(operations(c)) for c in (novamem_client.NovamemClient, novamem_client.Management, novamem_client.Admin)
    )
    assert total >= 41  # the reference SDKs' 41 operations, plus forget-by-source and the dry-run erase
