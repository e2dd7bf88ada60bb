"""Environments on the command line, on local files only (no cloud): --env and INFRA_ENV, each
environment's own files and state, and `infra env list`."""

import json

import pytest

from tests.cli_helpers import run_infra

# Local resources only (no AMI, no autoscaling group): nothing needs AWS.
NODES = {
    "__settings__": {"project": "acme"},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": False,
                 "run_list": ["recipe[base]"]},
    "__environments__": {
        "staging": {"region": "us-west-2", "default_attributes": {"environment": "staging"}},
        "production": {"aws": {"role_arn": "arn:aws:iam::222222222222:role/infra-deploy"},
                       "default_attributes": {"environment": "production"},
                       "groups": {"web": {"run_list": ["recipe[acme::tls]"]}}},
    },
    "web": {"run_list": ["recipe[acme::web]"]},
    "api": {"region": "eu-west-1"},
}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "nodes.json").write_text(json.dumps(NODES, indent=2))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFRA_ENV", raising=False)
    return tmp_path


def one_line(result) -> str:
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1, result.err
    return result.err


def test_commands_that_plan_or_read_state_need_an_environment(repo, capsys):
    for command in (["plan"], ["apply", "--auto-approve"], ["state", "list"], ["drift"], ["show", "web"]):
        assert "defines environments (staging, production): choose one with --env NAME (or INFRA_ENV)" \
            in one_line(run_infra(capsys, *command))
    assert "unknown environment 'prodution'; did you mean 'production'?" in one_line(
        run_infra(capsys, "--env", "prodution", "plan"))
    assert run_infra(capsys, "validate").code == 0  # every environment is checked without one


def test_each_environment_applies_its_own_files_and_state(repo, capsys, monkeypatch):
    assert run_infra(capsys, "--env", "staging", "apply", "--auto-approve").code == 0
    monkeypatch.setenv("INFRA_ENV", "production")
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    staging = json.loads((repo / "roles" / "staging" / "role-web.json").read_text())
    production = json.loads((repo / "roles" / "production" / "role-web.json").read_text())
    assert staging["default_attributes"] == {"environment": "staging"}
    assert production["run_list"] == ["recipe[base::default]", "recipe[acme::web]", "recipe[acme::tls]"]
    assert not (repo / "roles" / "role-web.json").exists() and not (repo / ".infra" / "state.json").exists()
    listed = json.loads(run_infra(capsys, "state", "list", "-o", "json").out)
    assert listed == ["role.api", "role.web"]
    state = json.loads((repo / ".infra" / "production" / "state.json").read_text())
    assert state["owner"] == "acme/production" and "roles/production/role-web.json" in json.dumps(state)

    # One environment's plan never takes the other's files for its own, nor deletes them.
    monkeypatch.delenv("INFRA_ENV")
    for environment in ("staging", "production"):
        assert run_infra(capsys, "--env", environment, "plan", "--detailed-exitcode").code == 0
    (repo / ".infra" / "staging" / "state.json").unlink()
    assert run_infra(capsys, "--env", "staging", "plan", "--detailed-exitcode").code == 0


def test_env_list_shows_regions_account_state_and_where_amis_come_from(repo, capsys):
    nodes = {**NODES, "__settings__": {"project": "acme", "promote": ["staging", "production"],
                                       "state": {"backend": "s3", "bucket": "acme-ops", "key": "infra/state.json",
                                                 "lock_table": "locks"}}}
    (repo / "nodes.json").write_text(json.dumps(nodes))
    listed = run_infra(capsys, "env", "list")
    assert listed.code == 0
    cells = [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in listed.out.splitlines()]
    assert cells == [["ENVIRONMENT", "REGIONS", "ACCOUNT", "STATE", "AMIS"],
                     ["staging", "eu-west-1, us-west-2", "the credentials'", "s3://acme-ops/infra/staging/state.json",
                      "built here"],
                     ["production", "eu-west-1, us-east-1", "222222222222 (role infra-deploy)",
                      "s3://acme-ops/infra/production/state.json", "promoted from staging"]]
    assert len({line.index("AMIS" if "AMIS" in line else ("built" if "built" in line else "promoted"))
                for line in listed.out.splitlines()}) == 1  # aligned
    rows = json.loads(run_infra(capsys, "env", "list", "-o", "json").out)
    assert [(r["name"], r["owner"], r["account"], r["promoted_from"]) for r in rows] == [
        ("staging", "acme/staging", None, None), ("production", "acme/production", "222222222222", "staging")]
    assert rows[1]["regions"] == ["eu-west-1", "us-east-1"] and rows[1]["state"].endswith("infra/production/state.json")
    assert json.loads(run_infra(capsys, "--region", "ap-south-1", "env", "list", "-o", "json").out)[0]["regions"] \
        == ["ap-south-1"]


def test_env_list_without_environments_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "nodes.json").write_text(json.dumps({"__base__": NODES["__base__"], "web": {}}))
    monkeypatch.chdir(tmp_path)
    listed = run_infra(capsys, "env", "list")
    assert listed.code == 0 and listed.out == "" and "defines no environments" in listed.err
    assert "--env staging: nodes.json defines no environments" in one_line(
        run_infra(capsys, "--env", "staging", "plan"))


def test_the_schema_takes_environments_and_refuses_their_unknown_keys(repo, capsys):
    from jsonschema import Draft202012Validator

    schema = json.loads(run_infra(capsys, "schema").out)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert not list(validator.iter_errors(NODES))
    wrong = {**NODES, "__environments__": {"staging": {"regoin": "us-west-2"}, "Prod": {}}}
    assert len(list(validator.iter_errors(wrong))) == 2
