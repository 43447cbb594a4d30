"""Merging the `novamem` entry into a host's YAML configuration (Goose, Continue) without clobbering it.

The merge is textual, so the user's comments, key order and layout survive: only the lines of our own entry are
replaced (or appended to the block that holds the servers). The result is then parsed again and must equal the
old document with exactly our entry set; when it does not (a layout this edit cannot follow: flow style,
anchors, several entries of ours), the whole document is re-serialised from the parsed data instead, which keeps
every key and value but not the comments, and the caller is told so. Pure: text in, text out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["YamlMerge", "dump_yaml", "load_yaml_mapping", "merge_list_item", "merge_mapping_entry"]


@dataclass(frozen=True, slots=True)
class YamlMerge:
    """The new text of a YAML file, and whether it is the old text with only our entry changed."""

    text: str
    comments_kept: bool  # False: re-serialised from the parsed data (every key kept, comments and layout not)


def dump_yaml(value: Any) -> str:
    """Block-style YAML in the key order given, the way the hosts write their own files."""
    return yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, sort_keys=False, width=1000)


def load_yaml_mapping(text: str) -> dict[str, Any]:
    """The document as a mapping ({} when empty); ValueError when it is valid YAML but not a mapping.

    yaml.YAMLError propagates for text that is not YAML at all."""
    data = yaml.safe_load(text) if text.strip() else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("the document is not a mapping")
    return data


_EMPTY_VALUE = re.compile(r"^\s*(\{\s*\}|\[\s*\]|null|~)?\s*(#.*)?$")


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_line(key: str, indent: int = 0) -> re.Pattern[str]:
    return re.compile(rf"^ {{{indent}}}(?P<q>[\"']?){re.escape(key)}(?P=q)\s*:(?P<rest>.*)$")


def _find_key(lines: list[str], key: str) -> tuple[int, str] | None:
    """The line index of a top-level `key:` and what follows its colon."""
    pattern = _key_line(key)
    for i, line in enumerate(lines):
        found = pattern.match(line.rstrip("\n"))
        if found:
            return i, found.group("rest")
    return None


def _block_end(lines: list[str], start: int, *, sequence: bool) -> int:
    """One past the last content line of the block under the key at `start` (trailing comments stay outside)."""
    end = start + 1
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if not _is_content(line):
            continue
        indented = line.startswith((" ", "\t"))
        # a block sequence may sit at the key's own indentation (`key:\n- item`); `---` starts a new document
        dash_item = sequence and (line.startswith("- ") or line.rstrip("\n") == "-")
        if not (indented or dash_item):
            break
        end = j + 1
    return end


def _trimmed_end(lines: list[str], start: int, end: int) -> int:
    while end > start and not _is_content(lines[end - 1]):
        end -= 1
    return end


def _indented(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return [pad + line if line.strip() else line for line in text.splitlines(keepends=True)]


def _textual_mapping(lines: list[str], key: str, name: str, entry: Mapping[str, Any]) -> list[str] | None:
    found = _find_key(lines, key)
    if found is None:
        return [*lines, f"{key}:\n", *_indented(dump_yaml({name: dict(entry)}), 2)]
    start, rest = found
    if rest.strip() and not rest.strip().startswith("#"):
        if not _EMPTY_VALUE.match(rest):
            return None  # a non-empty flow mapping: not edited textually
        return [*lines[:start], f"{key}:\n", *_indented(dump_yaml({name: dict(entry)}), 2), *lines[start + 1 :]]
    end = _block_end(lines, start, sequence=False)
    content = [j for j in range(start + 1, end) if _is_content(lines[j])]
    indent = _indent_of(lines[content[0]]) if content else 2
    ours = _indented(dump_yaml({name: dict(entry)}), indent)
    child = _key_line(name, indent)
    for j in content:
        if _indent_of(lines[j]) == indent and child.match(lines[j].rstrip("\n")):
            stop = next((k for k in content if k > j and _indent_of(lines[k]) <= indent), end)
            stop = _trimmed_end(lines, j, stop)
            return [*lines[:j], *ours, *lines[stop:]]
    return [*lines[:end], *ours, *lines[end:]]


def _textual_list(lines: list[str], key: str, name: str, entry: Mapping[str, Any]) -> list[str] | None:
    found = _find_key(lines, key)
    if found is None:
        return [*lines, f"{key}:\n", *_indented(dump_yaml([dict(entry)]), 0)]
    start, rest = found
    if rest.strip() and not rest.strip().startswith("#"):
        if not _EMPTY_VALUE.match(rest):
            return None
        return [*lines[:start], f"{key}:\n", *_indented(dump_yaml([dict(entry)]), 0), *lines[start + 1 :]]
    end = _block_end(lines, start, sequence=True)
    content = [j for j in range(start + 1, end) if _is_content(lines[j])]
    indent = _indent_of(lines[content[0]]) if content else 0
    ours = _indented(dump_yaml([dict(entry)]), indent)
    items = [j for j in content if _indent_of(lines[j]) == indent and lines[j][indent:].startswith("-")]
    for n, j in enumerate(items):
        stop = _trimmed_end(lines, j, items[n + 1] if n + 1 < len(items) else end)
        try:
            parsed = yaml.safe_load("".join(line[indent:] if line.strip() else line for line in lines[j:stop]))
        except yaml.YAMLError:
            return None
        if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict) and parsed[0].get("name") == name:
            return [*lines[:j], *ours, *lines[stop:]]
    return [*lines[:end], *ours, *lines[end:]]


def _merge(
    text: str,
    expected: dict[str, Any],
    edit: Callable[[list[str]], list[str] | None],
    fresh: dict[str, Any],
) -> YamlMerge:
    if not text.strip():
        return YamlMerge(dump_yaml(fresh), comments_kept=True)
    lines = text.splitlines(keepends=True)
    if not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    edited = edit(lines)
    if edited is not None:
        candidate = "".join(edited)
        try:
            if load_yaml_mapping(candidate) == expected:
                return YamlMerge(candidate, comments_kept=True)
        except (yaml.YAMLError, ValueError):
            pass  # the textual edit broke the document: fall back to re-serialising below
    return YamlMerge(dump_yaml(expected), comments_kept=False)


def merge_mapping_entry(text: str, key: str, name: str, entry: Mapping[str, Any]) -> YamlMerge:
    """Set `<key>.<name>` of a YAML mapping document to `entry` (Goose: `extensions.novamem`).

    The caller has checked that the document is a mapping and that `key`, when present, holds a mapping."""
    data = load_yaml_mapping(text)
    expected = copy.deepcopy(data)
    expected[key] = {**(expected.get(key) or {}), name: dict(entry)}
    return _merge(text, expected, lambda lines: _textual_mapping(lines, key, name, entry), expected)


def merge_list_item(
    text: str, key: str, name: str, entry: Mapping[str, Any], *, new_file: Mapping[str, Any] | None = None
) -> YamlMerge:
    """Put `entry` into the list `<key>` of a YAML mapping document, replacing the item whose `name` is `name`
    (Continue: `mcpServers`). A file that is empty starts from `new_file` (the host's required header keys).

    The caller has checked that the document is a mapping and that `key`, when present, holds a list."""
    data = load_yaml_mapping(text)
    expected = copy.deepcopy(data)
    items = list(expected.get(key) or [])
    ours = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("name") == name]
    if ours:
        items[ours[0]] = dict(entry)
        items = [item for i, item in enumerate(items) if i not in ours[1:]]
    else:
        items.append(dict(entry))
    expected[key] = items
    fresh = {**(new_file or {}), key: [dict(entry)]}
    return _merge(text, expected, lambda lines: _textual_list(lines, key, name, entry), fresh)
