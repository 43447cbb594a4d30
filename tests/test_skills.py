"""The Agent Skills bundle and slash commands: committed files match the generator, and the generator speaks
the server's own texts (instructions, tool names) in the hosts' formats."""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path

import yaml

from novamem.services.agents.connect import AgentHost
from novamem.services.agents.guide import INSTRUCTIONS, TOOL_DOCS
from novamem.services.agents.skills import bundle_files, claude_md_fragment, host_files

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `.venv/bin/python scripts/gen_skills.py` and commit skills/ and integrations/"
TOOL_NAMES = {doc.name for doc in TOOL_DOCS}


def test_committed_skills_and_commands_match_the_generator(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_skills.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"scripts/gen_skills.py failed:\n{run.stdout}{run.stderr}"
    fresh = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(ROOT).as_posix()
        for folder in ("skills", "integrations")
        for p in (ROOT / folder).rglob("*")
        if p.is_file()
    }
    problems = []
    for name in sorted(fresh | committed):
        old = (ROOT / name).read_text(encoding="utf-8") if name in committed else ""
        new = (tmp_path / name).read_text(encoding="utf-8") if name in fresh else ""
        if old != new:
            diff = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"committed/{name}", name)
            problems.append("".join(list(diff)[:40]))
    assert not problems, f"skills/ or integrations/ is out of date; {REGENERATE}.\n" + "\n".join(problems)


def _front_matter(text: str) -> dict[str, str]:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "no YAML front matter"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def test_skills_follow_the_agent_skills_format_and_carry_the_server_instructions() -> None:
    files = bundle_files()
    for path in ("skills/novamem/SKILL.md", "skills/session-recap/SKILL.md"):
        meta = _front_matter(files[path])
        assert meta["name"] == Path(path).parent.name  # agentskills.io: the name is the folder's
        assert 20 < len(meta["description"]) <= 1024
    skill = files["skills/novamem/SKILL.md"]
    assert INSTRUCTIONS in skill  # the protocol is the server's own text, verbatim
    for doc in TOOL_DOCS:
        assert f"`{doc.name}`" in skill and " ".join(doc.description.split()) in skill
    for reference in ("search", "remember", "projects"):
        assert f"(references/{reference}.md)" in skill
        assert f"skills/novamem/references/{reference}.md" in files


def test_every_tool_a_command_names_exists_under_the_hosts_naming() -> None:
    claude = host_files(AgentHost.CLAUDE_CODE)
    kilo = host_files(AgentHost.KILO_CODE)
    assert sorted(p for p in claude if p.startswith("commands/")) == [
        f"commands/{n}.md" for n in ("forget", "recall", "remember", "today")
    ]
    assert sorted(p for p in kilo if p.startswith("commands/")) == [
        f"commands/{n}.md" for n in ("forget", "neighbors", "projects", "recall", "remember", "today")
    ]
    for path, text in claude.items():
        if path.startswith("commands/"):
            meta = _front_matter(text)
            allowed = [t.strip() for t in meta["allowed-tools"].split(",")]
            assert allowed and all(t.removeprefix("mcp__novamem__") in TOOL_NAMES for t in allowed)
            assert set(re.findall(r"mcp__novamem__(\w+)", text)) <= TOOL_NAMES
    for path, text in kilo.items():
        if path.startswith("commands/"):
            assert _front_matter(text)["description"]
            named = re.findall(r"`novamem__(\w+)`", text)
            assert named and set(named) <= TOOL_NAMES
    assert host_files(AgentHost.CURSOR) == {}


def test_the_claude_md_fragment_is_delimited_and_holds_the_protocol() -> None:
    fragment = claude_md_fragment()
    assert fragment.startswith("<!-- novamem:begin") and fragment.endswith("<!-- novamem:end -->\n")
    assert INSTRUCTIONS in fragment
    assert bundle_files()["integrations/claude-code/CLAUDE.md"] == fragment
