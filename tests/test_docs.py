"""The docs keep up with the code: the command reference is the command line's own, the nodes.json
reference names every key, README's taste prints what it shows."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_reference_matches_the_command_line():
    generated = subprocess.run([sys.executable, str(ROOT / "scripts" / "command_reference.py")], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert (ROOT / "docs" / "commands.md").read_text() == generated, \
        "docs/commands.md is out of date: run make docs"


def test_every_doc_the_readme_links_exists():
    readme = (ROOT / "README.md").read_text()
    for name in ("guide", "nodes-json", "commands", "images", "fleet", "registry", "state", "ci", "plan-json",
                 "environments", "architecture", "performance", "scaling"):
        assert f"docs/{name}.md" in readme
        assert (ROOT / "docs" / f"{name}.md").exists(), f"docs/{name}.md is linked from README.md but missing"


def _keys(model, prefix=""):
    """Every key of a settings model, nested ones as `parent.child`."""
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        yield key
        for inner in (*getattr(field.annotation, "__args__", ()), field.annotation):
            if hasattr(inner, "model_fields"):
                yield from _keys(inner, key + ".")


def test_the_nodes_json_reference_names_every_key():
    from infra.config.environments import EnvironmentSettings
    from infra.config.schema import GroupSettings, Settings

    reference = (ROOT / "docs" / "nodes-json.md").read_text()
    undocumented = [key for key in [*_keys(GroupSettings), *_keys(Settings), *_keys(EnvironmentSettings)]
                    if f"`{key.rsplit('.', 1)[-1]}`" not in reference and f"`{key}`" not in reference
                    and f"{key}`" not in reference and f"`{key}." not in reference]
    assert not undocumented, f"docs/nodes-json.md does not name {', '.join(undocumented)}"


def _taste() -> list[tuple[str, list[str]]]:
    """README's taste: each `$ command` with the lines it shows after it (`...` stands for more)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## A taste"):]
    section = section[:section.index("\n## ", 1)]
    steps: list[tuple[str, list[str]]] = []
    for line in section.splitlines():
        if line.startswith("    $ "):
            steps.append((line[6:].split("  #")[0].strip(), []))
        elif line.startswith("    ") and steps and line.strip() != "...":
            steps[-1][1].append(line[4:].rstrip())
    return steps


@pytest.mark.skipif(shutil.which("packer") is None, reason="needs the packer binary")
def test_the_readmes_taste_prints_what_it_shows(tmp_path):
    """The taste, run as a new user would (a shell, the sandbox, no AWS credentials): each command
    succeeds, and prints the lines README shows in that order (so the plan's counts are the real ones)."""
    steps = _taste()
    assert [command.split()[1] for command, _ in steps if command.startswith("infra ")][:1] == ["validate"]
    assert any("Plan: " in line for _, shown in steps for line in shown)
    (tmp_path / "nodes.json").write_text((ROOT / "nodes.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INFRA_", "GIT_"))}
    env.update(HOME=str(tmp_path), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    # An ops repository whose origin makes the project `infra`, as the taste shows.
    for git in (["init", "-q"], ["remote", "add", "origin", "https://git.example.com/infra.git"]):
        subprocess.run(["git", *git], cwd=tmp_path, env=env, check=True, capture_output=True)
    marker = "@@infra-taste-step@@"
    script = "set -e\n" + "".join(f"echo {marker}\n{command}\n" for command, _ in steps)
    try:
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=600)
    finally:
        subprocess.run(["infra", "sandbox", "stop"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outputs = done.stdout.split(marker + "\n")[1:]
    assert len(outputs) == len(steps)
    for (command, shown), printed in zip(steps, outputs, strict=True):
        lines = iter(printed.splitlines())
        # In order; `...` within a line stands for what the taste leaves out.
        wanted = [re.compile(".*".join(map(re.escape, line.split("...")))) for line in shown]
        missing = [line for line, pattern in zip(shown, wanted, strict=True)
                   if not any(pattern.fullmatch(got.rstrip()) for got in lines)]
        assert not missing, f"README's `{command}` shows {missing[0]!r}; it printed:\n{printed[-3000:]}"
