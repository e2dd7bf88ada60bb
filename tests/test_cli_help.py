"""The command line describes itself: --version, shell completion, and help that names values."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import version

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
                                   ("infra plan -o ", 3, {"text", "json", "markdown"})):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(cword))
        result = run_infra(capsys)
        assert result.code == 0
        assert set(result.out.split()) == expected, words


def test_install_and_show_completion_are_offered(capsys):
    assert {"--install-completion", "--show-completion", "--version"} <= set(run_infra(capsys, "--help").out.split())
    assert run_infra(capsys, "completion", "tcsh").code == 1
