"""Generated files committed with nodes.json: `infra generate [--check]`, and a plan in a clone whose
files lag what another clone applied (docs/ci.md, "Generated files")."""

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import run_infra
from tests.conftest import LOCAL
from tests.test_cli_environments import NODES as WITH_ENVIRONMENTS

EXAMPLE = Path(__file__).resolve().parents[1] / "nodes.json"


def repo_with(path: Path, nodes: dict | str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "nodes.json").write_text(nodes if isinstance(nodes, str) else json.dumps(nodes, indent=2))
    return path


def test_check_names_each_stale_file_and_what_to_run_until_generate_writes_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(repo_with(tmp_path, EXAMPLE.read_text()))
    result = run_infra(capsys, "generate", "--check")
    assert result.code == 1
    assert "roles/role-12_04-bee.json: missing; run: infra generate\n" in result.err
    assert "dna/asg/12_04-bee.json: missing; run: infra generate\n" in result.err
    assert "error: 5 generated file(s) out of date with nodes.json: run infra generate, then commit them" in result.err
    assert not (tmp_path / "roles").exists()  # --check writes nothing

    assert run_infra(capsys, "generate").code == 0
    assert run_infra(capsys, "generate", "--check").code == 0

    nodes = json.loads(EXAMPLE.read_text())
    nodes["12_04-www"]["run_list"].append("recipe[nginx]")
    del nodes["12_04-bee"]
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    result = run_infra(capsys, "generate", "--check")
    assert result.code == 1
    assert result.err.splitlines()[:3] == [
        "dna/asg/12_04-bee.json: nodes.json no longer makes it; run: infra generate",
        "packer/12_04-bee.json: nodes.json no longer makes it; run: infra generate",
        "roles/role-12_04-www.json: differs from what nodes.json makes; run: infra generate"]
    assert "removed dna/asg/12_04-bee.json" in run_infra(capsys, "generate").out
    assert "recipe[nginx::default]" in (tmp_path / "roles/role-12_04-www.json").read_text()
    assert (tmp_path / "roles/role-12_04-bee.json").exists()  # roles may be hand-written: never removed
    assert run_infra(capsys, "generate", "--check").code == 0


def test_check_covers_every_environment_and_env_narrows_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(repo_with(tmp_path, WITH_ENVIRONMENTS))
    monkeypatch.delenv("INFRA_ENV", raising=False)
    assert run_infra(capsys, "--env", "staging", "generate").code == 0
    result = run_infra(capsys, "generate", "--check")
    assert result.code == 1
    assert "roles/production/role-web.json: missing (environment production); run: infra --env production generate" \
        in result.err
    assert "staging" not in result.err
    assert run_infra(capsys, "--env", "staging", "generate", "--check").code == 0


def test_a_clone_without_the_files_another_clone_applied_is_told_why_its_plan_writes_them(tmp_path, capsys,
                                                                                         monkeypatch):
    nodes = {"__settings__": {"project": "acme"}, **LOCAL}  # both clones are one project
    first, second = repo_with(tmp_path / "first", nodes), repo_with(tmp_path / "second", nodes)
    monkeypatch.chdir(first)
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    (second / ".infra").mkdir()  # the state both share (as in S3): the first clone's
    shutil.copy(first / ".infra" / "state.json", second / ".infra" / "state.json")
    monkeypatch.chdir(second)
    (second / "roles").mkdir()
    (second / "roles" / "role-web.json").write_text('{"name": "role-web", "old": true}')

    plan = run_infra(capsys, "plan", "--output", "json")
    reasons = {a["address"]: a["reason"] for a in json.loads(plan.out)["actions"]}
    assert reasons["role.api"].startswith("roles/role-api.json is missing from this working tree, but the state "
                                          "records it as nodes.json wants it: applied from another clone")
    assert reasons["role.web"].startswith("roles/role-web.json is different in this working tree")
    assert "commit roles/, packer/ and dna/" in reasons["role.web"]

    changed = json.loads(json.dumps(nodes))
    changed["web"]["run_list"].append("recipe[acme::tls]")  # a change of nodes.json is an ordinary change
    (second / "nodes.json").write_text(json.dumps(changed))
    plan = run_infra(capsys, "plan", "--output", "json")
    reasons = {a["address"]: a["reason"] for a in json.loads(plan.out)["actions"]}
    assert reasons["role.web"] == "changed: document"


@pytest.mark.parametrize("args", [["generate"], ["generate", "--check"]])
def test_a_bad_nodes_json_is_one_line(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(repo_with(tmp_path, '{"web": {"instance_typo": 1}}'))
    result = run_infra(capsys, *args)
    assert result.code == 1 and result.err.count("\n") == 1 and "instance_typo" in result.err
