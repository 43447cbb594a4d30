"""Write the Agent Skills bundle and the slash commands from the code: skills/ and integrations/.

The texts come from `novamem.services.agents.skills`, which builds them from the MCP server instructions and the
tool catalogue (`novamem.services.agents.guide`), so the skills cannot drift from what the server tells agents.

Usage: .venv/bin/python scripts/gen_skills.py [--out DIR]   (default: the repository root)
tests/test_skills.py regenerates into a temporary folder and fails when the committed files differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from novamem.services.agents.skills import bundle_files

ROOT = Path(__file__).resolve().parent.parent
# the folders this script owns: every file in them is generated
OWNED = ("skills", "integrations")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="root to write skills/ and integrations/ under")
    args = parser.parse_args(argv)
    out: Path = args.out
    files = bundle_files()
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    stale = [
        path
        for folder in OWNED
        for path in sorted((out / folder).rglob("*"))
        if path.is_file() and path.relative_to(out).as_posix() not in files
    ]
    for path in stale:
        path.unlink()
    print(f"wrote {len(files)} files under {', '.join(f'{out / folder}/' for folder in OWNED)}")
    if stale:
        print(f"removed {len(stale)} stale files: {', '.join(str(p) for p in stale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
