"""The command line describes itself: --version, shell completion, and help that names values."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from infra import __version__
from infra.cli.app import command
from tests.cli_helpers import run_infra

PYTHON_TYPES = re.compile(r"<(str|int|float|bool|path)>|list\[|typing\.|<class ")


def _all_commands(root, path=("infra",)):
    yield path, root
    for name, sub in getattr(root, "commands", {}).items():
        yield from _all_commands(sub, (*path, name))


def test_infra_version_prints_the_installed_version(capsys):
    result = run_infra(capsys, "--version")
    assert result.code == 0 and result.out == f"infra {__version__}\n"
    assert version("infra-fleet") == __version__


def test_no_help_names_a_python_type(capsys):
    for path, _ in _all_commands(command()):
        result = run_infra(capsys, *path[1:], "--help")
        assert result.code == 0, result.err
        assert not PYTHON_TYPES.search(result.out), f"{' '.join(path)} --help:\n{result.out}"
    plan = run_infra(capsys, "plan", "--help").out
    assert "[GROUPS]..." in plan and "--out FILE" in plan and "<text|json|markdown>" in plan
    assert "--ttl SECONDS" in run_infra(capsys, "services:notify", "--help").out


def _flags(help_text: str) -> set[str]:
    """The flags of the option rows of a --help (up to the next heading)."""
    rows = re.findall(r"^  (-[^ ,]+(?:, -[^ ,]+)?)", help_text.split("\nCommands:")[0], re.MULTILINE)
    return {flag for row in rows for flag in row.split(", ")}


GLOBAL_FLAGS = ["-c", "--config", "--env", "--region", "--profile", "--endpoint-url", "--max-request-rate", "--debug"]


def test_every_commands_help_lists_the_global_options_it_takes_apart(capsys):
    """Every command and group takes the global options after it too (none has an option of the same
    name: docs/commands.md would name it), and its help lists them under their own heading."""
    for path, _ in _all_commands(command()):
        if len(path) == 1:
            continue
        shown = run_infra(capsys, *path[1:], "--help").out
        own, _, global_ = shown.partition("\nGlobal options:\n")
        assert _flags(global_) == set(GLOBAL_FLAGS), f"{' '.join(path)} --help:\n{shown}"
        assert not _flags(own) & set(GLOBAL_FLAGS), f"{' '.join(path)} --help:\n{shown}"
    assert run_infra(capsys, "state", "--help").out.index("Global options:") \
        < run_infra(capsys, "state", "--help").out.index("Commands:")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_for_each_shell(capsys, shell):
    result = run_infra(capsys, "completion", shell)
    assert result.code == 0, result.err
    assert f"_INFRA_COMPLETE=complete_{shell}" in result.out
    if shell == "zsh":
        assert result.out.startswith("#compdef infra")  # zsh reads it from a file in $fpath too
    runner = shutil.which(shell)
    if runner is not None and shell == "bash":
        subprocess.run([runner, "-n"], input=result.out, text=True, check=True)


def test_completion_completes_commands_options_and_choices(capsys, monkeypatch):
    monkeypatch.setenv("_INFRA_COMPLETE", "complete_bash")
    for words, cword, expected in (("infra pl", 1, {"plan"}), ("infra services:l", 1, {"services:list"}),
                                   ("infra plan --o", 2, {"--out", "--output"}),
                                   ("infra plan -o ", 3, {"text", "json", "markdown"}),
                                   ("infra plan --en", 2, {"--env", "--endpoint-url"}),
                                   ("infra state list --env prod --o", 5, {"--output"})):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(cword))
        result = run_infra(capsys)
        assert result.code == 0
        assert set(result.out.split()) == expected, words


def test_install_and_show_completion_are_offered(capsys):
    assert {"--install-completion", "--show-completion", "--version"} <= set(run_infra(capsys, "--help").out.split())
    assert run_infra(capsys, "completion", "tcsh").code == 1


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_completion_sets_up_bash_and_the_script_completes(tmp_path):
    """--install-completion and --show-completion detect the shell they run in (here bash); the
    script installed then completes infra's commands in a real bash."""
    env = {**os.environ, "HOME": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", None)
    # `; exit $?`: bash runs infra as its child, not exec'ing it in its place, so the shell infra
    # finds above it is that bash, whatever runs the tests (a detached run has no shell above it).
    installed = subprocess.run(["bash", "-c", "infra --install-completion; exit $?"], env=env, capture_output=True,
                               text=True)
    assert installed.returncode == 0 and "bash completion installed" in installed.stdout, installed.stderr
    assert "infra.sh" in (tmp_path / ".bashrc").read_text()
    shown = subprocess.run(["bash", "-c", "infra --show-completion; exit $?"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0 and "complete -o default -F _infra_completion infra" in shown.stdout
    completed = subprocess.run(["bash", "-c", "source ~/.bash_completions/infra.sh; COMP_WORDS=(infra sandbox st); "
                                "COMP_CWORD=2; _infra_completion infra; echo ${COMPREPLY[@]}"],
                               env=env, capture_output=True, text=True)
    assert set(completed.stdout.split()) == {"start", "status", "stop"}, completed.stderr
