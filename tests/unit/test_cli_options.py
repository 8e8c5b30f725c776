"""Every `ecsram serve` option is described and has an environment variable, and that variable works."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

import ecsram.server
from ecsram import cli
from ecsram.config import Settings


def test_every_serve_option_has_a_description_and_an_environment_variable() -> None:
    options = [param for param in cli.serve.params if isinstance(param, click.Option)]
    assert len(options) >= 6
    for option in options:
        assert option.help, f"{option.name} has no description"
        assert isinstance(option.envvar, str) and option.envvar.startswith("ECSRAM_"), option.name
        assert option.show_envvar, f"{option.name}: --help does not show {option.envvar}"
    shown = CliRunner().invoke(cli.main, ["serve", "--help"], terminal_width=400).output
    for option in options:
        assert f"env var: {option.envvar}" in shown


@pytest.mark.parametrize(
    ("environment", "flags", "expected"),
    [
        (
            {"ECSRAM_METADATA_LISTENERS": "i-abc@127.0.0.1:9100, 127.0.0.1:9101"},
            [],
            ("i-abc@127.0.0.1:9100", "127.0.0.1:9101"),
        ),
        ({"ECSRAM_METADATA_LISTENERS": "127.0.0.1:9101"}, ["--metadata-listen", "127.0.0.1:9102"], ("127.0.0.1:9102",)),
        (
            {},
            ["--metadata-listen", "i-a@127.0.0.1:1", "--metadata-listen", "127.0.0.1:2"],
            ("i-a@127.0.0.1:1", "127.0.0.1:2"),
        ),
    ],
)
def test_metadata_listeners_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], flags: list[str], expected: tuple[str, ...]
) -> None:
    started: list[Settings] = []
    monkeypatch.setattr(ecsram.server, "serve", started.append)
    result = CliRunner().invoke(
        cli.main, ["serve", "--database", "sqlite:////nonexistent/x.db", *flags], env=environment
    )
    assert result.exit_code == 0, result.output
    assert started[0].metadata_listeners == expected


def test_a_malformed_listener_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ecsram.server, "serve", lambda settings: None)
    result = CliRunner().invoke(cli.main, ["serve"], env={"ECSRAM_METADATA_LISTENERS": "nohost"})
    assert result.exit_code == 2 and "metadata listener 'nohost'" in result.output
