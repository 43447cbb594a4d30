"""Docs come from one source: docs/generated/ matches the code, and every `__all__` is true."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import novamem

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "docs" / "generated"
REGENERATE = "run `.venv/bin/python scripts/gen_docs.py` and commit docs/generated/"


def _diff(name: str, committed: Path, fresh: Path) -> str:
    old = committed.read_text(encoding="utf-8").splitlines(keepends=True) if committed.exists() else []
    new = fresh.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old, new, f"committed/{name}", f"generated/{name}"))
    return "".join(lines[:80]) + ("...\n" if len(lines) > 80 else "")


def test_generated_docs_match_the_code(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"scripts/gen_docs.py failed:\n{run.stdout}{run.stderr}"
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh, "scripts/gen_docs.py wrote nothing"
    committed = sorted(p.name for p in GENERATED.iterdir()) if GENERATED.is_dir() else []
    diffs = [
        _diff(name, GENERATED / name, tmp_path / name)
        for name in fresh
        if not (GENERATED / name).exists() or (GENERATED / name).read_bytes() != (tmp_path / name).read_bytes()
    ]
    leftovers = sorted(set(committed) - set(fresh))
    assert not diffs and not leftovers, (
        f"docs/generated/ is out of date; {REGENERATE}.\n"
        + (f"Not generated any more: {', '.join(leftovers)}\n" if leftovers else "")
        + "\n".join(diffs)
    )


def _module_names() -> list[str]:
    # __main__ runs the command line when imported, so it is left out.
    found = pkgutil.walk_packages(novamem.__path__, prefix="novamem.")
    return ["novamem", *sorted(m.name for m in found if not m.name.endswith(".__main__"))]


def test_every_name_in_a_modules_all_exists() -> None:
    problems = []
    for name in _module_names():
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None)
        if public is None:
            continue
        for item in public:
            if not isinstance(item, str):
                problems.append(f"{name}.__all__ holds a non-string {item!r}")
            elif not hasattr(module, item):
                problems.append(f"{name}.__all__ lists {item!r}, which is not defined")
        problems += [f"{name}.__all__ lists {item!r} twice" for item in set(public) if list(public).count(item) > 1]
    assert not problems, "\n".join(problems)
