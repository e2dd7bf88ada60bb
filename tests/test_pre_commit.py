"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit on a scratch ops repository.

The hooks' repository is a one-commit copy of this checkout's package (as it is now, uncommitted
changes too); `pre-commit try-repo` installs it into a virtualenv of its own with pip, as an ops
repository's pre-commit would, once for the module, and runs the hooks. Nothing is downloaded but
the package's dependencies, from the package index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "nodes.json"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of this checkout's package and hooks, committed once (one hook environment)."""
    repo = tmp_path_factory.mktemp("hooks")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "infra", repo / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "hooks"], cwd=repo, check=True)
    return repo


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache, shared by the tests here so the hooks' virtualenv is installed once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def ops(tmp_path: Path) -> Path:
    """A git repository holding the seed's nodes.json, named as one project so every clone agrees."""
    nodes = {"__settings__": {"project": "acme"}, **json.loads(EXAMPLE.read_text())}
    (tmp_path / "nodes.json").write_text(json.dumps(nodes, indent=2))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def try_hook(ops: Path, hooks: Path, home: Path, hook: str) -> subprocess.CompletedProcess:
    subprocess.run(["git", "add", "-A"], cwd=ops, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("INFRA_CONFIG", None)
    env.pop("INFRA_ENV", None)
    return subprocess.run([str(PRE_COMMIT), "try-repo", str(hooks), hook, "--all-files", "--color", "never"], cwd=ops,
                          env=env, capture_output=True, text=True, timeout=600)


def test_infra_validate_passes_a_valid_nodes_json_and_names_the_key_of_a_bad_one(ops, hooks, home):
    passed = try_hook(ops, hooks, home, "infra-validate")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "infra validate" in passed.stdout and "Passed" in passed.stdout

    nodes = json.loads((ops / "nodes.json").read_text())
    nodes["12_04-www"]["instance_typo"] = "m1.large"
    (ops / "nodes.json").write_text(json.dumps(nodes, indent=2))
    failed = try_hook(ops, hooks, home, "infra-validate")
    assert failed.returncode == 1
    assert "Failed" in failed.stdout and "nodes.json:" in failed.stdout and "instance_typo" in failed.stdout


def test_infra_generated_names_each_stale_file_and_what_to_run(ops, hooks, home):
    failed = try_hook(ops, hooks, home, "infra-generated")
    assert failed.returncode == 1
    assert "roles/role-12_04-www.json: missing; run: infra generate" in failed.stdout
    assert "5 generated file(s) out of date with nodes.json" in failed.stdout

    generated = subprocess.run([str(Path(sys.executable).parent / "infra"), "generate"], cwd=ops,
                               capture_output=True, text=True)
    assert generated.returncode == 0, generated.stderr
    passed = try_hook(ops, hooks, home, "infra-generated")
    assert passed.returncode == 0, passed.stdout + passed.stderr
