"""Global options go before the command or after it (or after a group's sub-command), with the same
meaning, environment variables and errors; given both, the one after wins. Local files only (no cloud)."""

import json
from dataclasses import dataclass

import pytest
import typer

from infra.cli.global_options import accept_after_commands
from infra.errors import InfraError
from tests.cli_helpers import run_infra

NODES = {
    "__settings__": {"project": "acme"},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": False,
                 "run_list": ["recipe[base]"]},
    "__environments__": {"staging": {"default_attributes": {"environment": "staging"}},
                         "production": {"default_attributes": {"environment": "production"}}},
    "web": {"run_list": ["recipe[acme::web]"]},
    "api": {},
}
OTHER = {"__settings__": {"project": "acme"}, "__base__": NODES["__base__"], "db": {}}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "nodes.json").write_text(json.dumps(NODES, indent=2))
    (tmp_path / "other.json").write_text(json.dumps(OTHER, indent=2))
    monkeypatch.chdir(tmp_path)
    for name in ("INFRA_ENV", "INFRA_CONFIG", "INFRA_MAX_REQUEST_RATE", "INFRA_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_env_after_the_command_is_the_env_before_it(repo, capsys):
    before = run_infra(capsys, "--env", "staging", "plan", "-o", "json")
    after = run_infra(capsys, "plan", "-o", "json", "--env", "staging")
    assert before.code == after.code == 0, after.err
    assert after.out == before.out and "environment" in after.out
    # among a command's arguments too, as its own options go
    assert run_infra(capsys, "plan", "web", "--env", "staging", "api").out == run_infra(
        capsys, "--env", "staging", "plan", "web", "api").out


def test_config_before_or_after_the_command_and_the_one_after_wins(repo, capsys, monkeypatch):
    before = run_infra(capsys, "-c", "other.json", "plan")
    after = run_infra(capsys, "plan", "-c", "other.json")
    assert before.code == after.code == 0, after.err
    assert after.out == before.out and "role.db" in after.out and "role.web" not in after.out
    assert run_infra(capsys, "plan", "--config", "other.json").out == before.out
    both = run_infra(capsys, "--config", "nodes.json", "plan", "-c", "other.json")
    assert both.code == 0 and both.out == before.out, both.err
    # the environment variable is the default wherever the option goes; the command line beats it
    monkeypatch.setenv("INFRA_CONFIG", "other.json")
    assert run_infra(capsys, "plan").out == before.out
    assert "role.web" in run_infra(capsys, "plan", "-c", "nodes.json", "--env", "staging").out


def test_a_trailing_global_option_after_a_groups_sub_command(repo, capsys):
    assert run_infra(capsys, "apply", "--auto-approve", "--env", "staging").code == 0
    listed = run_infra(capsys, "state", "list", "--env", "staging", "-o", "json")
    assert listed.code == 0 and json.loads(listed.out) == ["role.api", "role.web"], listed.err
    assert run_infra(capsys, "state", "--env", "staging", "list", "-o", "json").out == listed.out
    assert run_infra(capsys, "--env", "production", "state", "list", "--env", "staging", "-o", "json").out \
        == listed.out  # the one after wins
    regions = json.loads(run_infra(capsys, "env", "list", "-o", "json", "--region", "ap-south-1").out)
    assert [row["regions"] for row in regions] == [["ap-south-1"], ["ap-south-1"]]


@pytest.mark.parametrize("option, value", [
    ("--max-request-rate", "abc"),  # refused by the option's type
    ("--max-request-rate", "0"),  # refused by infra
    ("--region", "nope-1"),
    ("--endpoint-url", "notaurl"),
    ("--env", "prodution"),
    ("-c", "missing.json"),
])
def test_a_bad_value_after_the_command_is_the_one_line_error_it_is_before(repo, capsys, option, value):
    before = run_infra(capsys, option, value, "plan")
    after = run_infra(capsys, "plan", option, value)
    assert before.code == after.code == 1 and len(after.err.strip().splitlines()) == 1, after.err
    # A usage error points to the help of the command it was given to, which lists the option too.
    assert after.err == before.err.replace("(see: infra --help)", "(see: infra plan --help)")


@pytest.mark.parametrize("args, message", [
    (["plan", "--env"], "Option '--env' requires an argument. (see: infra plan --help)"),
    (["state", "list", "-c"], "Option '-c' requires an argument. (see: infra state list --help)"),
    (["state", "list", "-o"], "Option '-o' requires an argument. (see: infra state list --help)"),
    (["apply", "--auto-approve=yes"], "Option '--auto-approve' does not take a value. (see: infra apply --help)"),
    (["--env"], "Option '--env' requires an argument. (see: infra --help)"),
])
def test_an_option_missing_its_value_points_to_the_help_of_its_command(repo, capsys, args, message):
    """As every other usage error does: that help lists the option (a global one under "Global options")."""
    result = run_infra(capsys, *args)
    assert result.code == 1 and result.err == f"error: {message}\n"


@pytest.mark.parametrize("group, given", [
    ([], ["--env", "staging"]),
    ([], ["--debug"]),
    (["state"], ["--env", "staging"]),
    (["state"], ["-c", "other.json", "--region", "eu-west-1"]),
    (["env"], ["--max-request-rate", "5"]),
    (["rollout"], ["--debug"]),
    (["sandbox"], ["--endpoint-url", "http://127.0.0.1:5000"]),
])
def test_a_group_given_options_but_no_command_shows_its_help_as_it_does_alone(repo, capsys, group, given):
    alone = run_infra(capsys, *group)
    assert alone.code == 0 and alone.out.startswith(f"Usage: {' '.join(['infra', *group])} ")
    assert run_infra(capsys, *group, *given) == alone  # not "Missing command.", exit 1


def test_debug_after_the_command_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no nodes.json: an error
    assert run_infra(capsys, "validate").code == 1
    with pytest.raises(InfraError):
        run_infra(capsys, "validate", "--debug")


def test_the_word_debug_as_an_option_s_value_is_not_debug(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFRA_DEBUG", raising=False)
    missing = run_infra(capsys, "-c", "--debug", "validate")  # nodes.json named "--debug": not there
    assert missing.code == 1 and missing.err.startswith("error: ") and "--debug" in missing.err
    assert len(missing.err.strip().splitlines()) == 1, missing.err  # one line, no traceback


@dataclass
class Settings:
    config: str = "nodes.json"
    region: str | None = None

    def set(self, name, value):
        setattr(self, name, value)


def test_a_commands_own_option_of_a_global_name_keeps_its_meaning(capsys):
    """No infra command has one today; this is what one would do: its own flag is its own, and the
    global option's other flags still work after it."""
    settings, seen = Settings(), {}
    cli = typer.Typer()

    @cli.callback()
    def root(config: str = typer.Option("nodes.json", "--config", "-c"),
             region: str | None = typer.Option(None, "--region")) -> None:
        settings.config, settings.region = config, region

    @cli.command()
    def launch(region: str = typer.Option("here", "--region")) -> None:
        seen.update(launch=region, settings=(settings.config, settings.region))

    @cli.command()
    def count(count: int = typer.Option(0, "-c", "--count")) -> None:
        seen.update(count=count, settings=(settings.config, settings.region))

    command = accept_after_commands(typer.main.get_command(cli), settings)
    command.main(["--region", "eu-west-1", "launch", "--region", "mars", "-c", "ops.json"], standalone_mode=False)
    assert seen == {"launch": "mars", "settings": ("ops.json", "eu-west-1")}
    command.main(["count", "-c", "3", "--config", "ops.json", "--region", "us-east-1"], standalone_mode=False)
    assert seen["count"] == 3 and seen["settings"] == ("ops.json", "us-east-1")
