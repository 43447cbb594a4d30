"""The Python examples of `clients/python/README.md` and of the main README run as written against a real
server (only the URL and the tokens are swapped in), so the documentation cannot drift from the client."""

from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import RunningServer

from .conftest import SDK_ROOT, Accounts

EXAMPLE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_every_python_example_runs(sdk_server: RunningServer, accounts: Accounts) -> None:
    examples = EXAMPLE.findall((SDK_ROOT / "README.md").read_text())
    assert len(examples) >= 3  # quick start, asyncio, on-behalf-of
    examples += [e for e in EXAMPLE.findall((SDK_ROOT.parents[1] / "README.md").read_text()) if "novamem_client" in e]
    for source in examples:
        source = source.replace("http://127.0.0.1:7778", sdk_server.base_url)
        source = source.replace("https://memory.example.com", sdk_server.base_url)
        source = source.replace('"nm_admin..."', repr(accounts.admin)).replace('"nm_..."', repr(accounts.user))
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "README.md", "exec"), {"__name__": "readme_example"})
