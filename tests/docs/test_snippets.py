"""The documentation runs: every code block in README.md and docs/*.md is run, checked, or marked.

The convention (docs/testing.md, "Docs that run"):

- ``<!-- fragment -->`` on the line before a fence: an illustration, not run (shell sessions,
  excerpts). Every ``sh`` block is one.
- ``<!-- file: PATH -->`` on the line before a fence: the block is that file of the repository,
  verbatim (tests run the file).
- ``json`` blocks must parse.
- ``python`` blocks: the Python blocks of one page, in order, are one program; ``js`` blocks
  likewise one Node program, run after the Python one. Each page gets a new server with an
  empty database (so the default account of the README), on a free port: the one rewrite made is
  ``127.0.0.1:8877`` -> that server's address. The pages of ``TLS_PAGES`` get an HTTPS server
  (``serve --tls``) instead, with the CA settings those pages tell the reader to export
  (``ALIBABA_CLOUD_CA_BUNDLE``, ``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``), ``ECSRAM_TLS_DIR``
  for ``ecsram tls ca-path``, and ``ecsram`` on the ``PATH``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecsram.testing.server import ServerProcess, sqlite_url

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
DOCUMENTED_ENDPOINT = "127.0.0.1:8877"

_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!-- (fragment|file: (\S+)) -->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    fragment: bool
    file: str | None

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{page.relative_to(ROOT)}:{index + 1}: unclosed code block")
        marker = _MARKER.match(lines[index - 1]) if index else None
        found.append(
            Block(
                page,
                index + 1,
                fence.group(1),
                "\n".join(lines[index + 1 : end]) + "\n",
                fragment=bool(marker and marker.group(1) == "fragment"),
                file=marker.group(2) if marker else None,
            )
        )
        index = end + 1
    return found


def program(page: Path, language: str) -> str:
    return "\n".join(b.code for b in blocks(page) if b.language == language and not b.fragment and b.file is None)


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_convention_is_seen() -> None:
    """The extractor finds blocks, markers and programs at all (a broken parser passes nothing)."""
    everything = [block for page in PAGES for block in blocks(page)]
    assert len(everything) >= 25
    assert any(block.fragment for block in everything)
    assert any(block.file == "examples/test_my_app.py" for block in everything)
    assert {"python", "js", "json"} <= {block.language for block in everything if not block.fragment}
    assert "AcsClient(" in program(ROOT / "README.md", "python")
    assert "RPCClient(" in program(ROOT / "README.md", "js")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_block_is_runnable_checked_or_marked(page: Path) -> None:
    problems = []
    for block in blocks(page):
        if block.fragment:
            continue
        if block.file is not None:
            shipped = ROOT / block.file
            if not shipped.is_file() or shipped.read_text() != block.code:
                problems.append(f"{block.where()}: differs from {block.file}")
        elif block.language == "json":
            try:
                json.loads(block.code)
            except ValueError as exc:
                problems.append(f"{block.where()}: not JSON ({exc})")
        elif block.language not in ("python", "js"):
            problems.append(f"{block.where()}: a {block.language or 'plain'} block must be marked <!-- fragment -->")
    assert not problems, "\n".join(problems)


def _environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in ("http_proxy", "https_proxy", "all_proxy") and not key.startswith("ECSRAM_")
    }
    # The metadata walkthrough reads the metadata service: the docs say to unset this for it.
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED", None)
    env["NODE_PATH"] = str(NODE_MODULES)
    return env


def _run(command: list[str], source: str, path: Path, endpoint: str, extra_env: dict[str, str] | None = None) -> None:
    path.write_text(source.replace(DOCUMENTED_ENDPOINT, endpoint))
    completed = subprocess.run(
        [*command, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environment(), **(extra_env or {})},
        cwd=path.parent,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{path.name} exited {completed.returncode}\n--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    )


RUNNABLE = [
    pytest.param(page, id=_page_id(page), marks=[pytest.mark.node] if program(page, "js") else [])
    for page in PAGES
    if program(page, "python") or program(page, "js")
]


# Pages whose programs talk HTTPS to `ecsram serve --tls` with the CA trusted as they describe.
TLS_PAGES = {"docs/tools.md"}
# Pages about an opt-in feature: their server runs with it, as the page tells the reader to
# (none today: the audit trail, which was one, is on by default).
SERVE_OPTIONS: dict[str, tuple[str, ...]] = {}


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_programs_run(page: Path, tmp_path: Path) -> None:
    python, node = program(page, "python"), program(page, "js")
    if node and not NODE_MODULES.is_dir():
        pytest.fail("the Node SDKs are not installed: run `npm ci --prefix tests/node`")
    tls = _page_id(page) in TLS_PAGES
    tls_dir = tmp_path / "tls"
    options = SERVE_OPTIONS.get(_page_id(page), ())
    with ServerProcess(sqlite_url(tmp_path), tls=tls, tls_dir=tls_dir if tls else None, extra_args=options) as server:
        extra: dict[str, str] = {}
        if tls:
            ca = str(server.ca_path)
            extra = {
                "ALIBABA_CLOUD_CA_BUNDLE": ca,
                "SSL_CERT_FILE": ca,
                "NODE_EXTRA_CA_CERTS": ca,
                "ECSRAM_TLS_DIR": str(tls_dir),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        if python:
            _run([sys.executable], python, tmp_path / "page.py", server.endpoint, extra)
        if node:
            _run(["node"], node, tmp_path / "page.js", server.endpoint, extra)
