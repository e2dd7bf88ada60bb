"""The seed's file commands on the command line (role:create, packer:create, autoscale:create), and
validate, show and schema: local files only, no cloud."""

import json

from tests.cli_helpers import run_infra
from tests.conftest import EXAMPLE
from tests.unit.test_config import SEED_ROLE_RUN_LIST


def infra(capsys, *args):
    return run_infra(capsys, *args)


def test_role_create_writes_the_seeds_role(example, capsys):
    result = infra(capsys, "role:create", "12_04-bee")
    assert result.code == 0, result.err
    role = json.loads((example / "roles" / "role-12_04-bee.json").read_text())
    assert role == {
        "name": "role-12_04-bee",
        "chef_type": "role",
        "json_class": "Chef::Role",
        "description": "12_04-bee-ec2 instance, responsible for worker processes",
        "override_attributes": {},
        "default_attributes": {"environment": "production", "key": "value", "other_key": "value"},
        "run_list": SEED_ROLE_RUN_LIST,
    }
    assert not (example / "roles" / "role-12_04-www.json").exists()


def test_role_create_leaves_changed_roles_to_role_update(example, capsys):
    infra(capsys, "roles:create")
    config = json.loads((example / "nodes.json").read_text())
    config["12_04-www"]["run_list"].append("recipe[extra]")
    (example / "nodes.json").write_text(json.dumps(config))
    result = infra(capsys, "role:create", "12_04-www")
    assert result.code == 0 and "role.12_04-www: left as it is: changed: document; role:update" in result.out
    assert "recipe[extra::default]" not in (example / "roles" / "role-12_04-www.json").read_text()
    assert infra(capsys, "roles:update", "12_04-www").code == 0
    assert "recipe[extra::default]" in (example / "roles" / "role-12_04-www.json").read_text()


def test_packer_create_and_autoscale_create_write_their_files(example, capsys):
    assert infra(capsys, "packer:create").code == 0
    template = json.loads((example / "packer" / "12_04-bee.json").read_text())
    assert template["builders"][0]["instance_type"] == "m1.large"
    assert "access_key" not in json.dumps(template) and "secret_key" not in json.dumps(template)
    assert infra(capsys, "autoscale:create").code == 0
    assert json.loads((example / "dna" / "asg" / "12_04-bee.json").read_text()) == \
        {"id": "12_04-bee", "run_list": ["role[role-12_04-bee]"]}
    assert not (example / "dna" / "asg" / "12_04-www.json").exists()
    bad = infra(capsys, "autoscale:create", "12_04-www")
    assert bad.code == 1 and "has no autoscale block" in bad.err


def test_bad_input_is_one_line_and_writes_nothing(example, capsys):
    (example / "nodes.json").write_text(EXAMPLE.read_text().replace('"timeout"', '"timeot"'))
    result = infra(capsys, "role:create")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "did you mean 'timeout'?" in result.err
    assert "Traceback" not in result.err
    assert not (example / "roles").exists() and not (example / ".infra").exists()


def test_unknown_group_and_missing_file(example, capsys):
    result = infra(capsys, "show", "12_04-be")
    assert result.code == 1 and "did you mean '12_04-bee'" in result.err
    result = infra(capsys, "-c", "elsewhere/nodes.json", "validate")
    assert result.code == 1 and "no nodes.json in" in result.err


def test_show_prints_the_merged_group_as_json(example, capsys):
    result = infra(capsys, "show", "12_04-bee", "--output", "json")
    shown = json.loads(result.out)
    assert shown["security_groups"] == ["external", "internal", "bee"]
    assert shown["autoscale"]["node_min"] == 2 and shown["run_list"][-1] == "recipe[seatgeek-service::djjob]"
    assert json.loads(infra(capsys, "show", "12_04-www", "-o", "json").out)["autoscale"] is False


def test_schema_describes_every_key(example, capsys):
    schema = json.loads(infra(capsys, "schema").out)
    keys = schema["$defs"]["GroupSettings"]["properties"]
    assert {"run_list", "post_run_list", "autoscale", "source_ami", "ami_keep", "depends_on"} <= set(keys)
