"""`infra completion SHELL`: the completion script for bash, zsh or fish.

Typer's `--install-completion` and `--show-completion` answer for the shell infra runs in (they
detect it); this names the shell, so the script can be made for any (a Dockerfile, dotfiles).
"""

from __future__ import annotations

from enum import Enum

import typer
from typer.completion import get_completion_script

from infra.cli.app import app


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completion")
def completion(shell: Shell = typer.Argument(..., help="The shell to complete infra's commands in.")) -> None:
    """Print the completion script for SHELL: eval "$(infra completion bash)" in ~/.bashrc (zsh: ~/.zshrc);
    fish: infra completion fish > ~/.config/fish/completions/infra.fish."""
    print(get_completion_script(prog_name="infra", complete_var="_INFRA_COMPLETE", shell=shell.value))
