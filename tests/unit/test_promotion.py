"""Build once, promote, without a server: what "the same inputs" means (the image digest), and the
plan of a promoted AMI: nothing to do, tags in place, a promote action, or one line saying what
it waits for."""

import copy
import json

import pytest

from infra.config import parse_config
from infra.errors import PromotionPending
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import desired_graph
from infra.reconciler.planner import plan
from infra.reconciler.promotion import IMAGE_DIGEST, image_template
from infra.reconciler.resources import Observed
from infra.state.model import State

NODES = {
    "__settings__": {"project": "acme", "promote": ["staging", "production"]},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "run_list": ["recipe[acme::base]"]},
    "__environments__": {
        "staging": {"region": "us-west-2", "tags": {"stage": "staging"}, "security_groups": ["staging"]},
        "production": {"region": "us-east-1", "instance_type": "m3.large", "tags": {"stage": "production"},
                       "groups": {"web": {"autoscale": {"node_min": 4, "node_max": 4}}}},
    },
    "base": {},
    "web": {"source_ami": "@base", "autoscale": {"node_min": 1, "node_max": 1}},
}


def graph(nodes, environment, root):
    return desired_graph(parse_config(json.dumps(nodes), "nodes.json", environment), root)


def test_production_plans_no_template_and_no_build_only_its_predecessors_image(tmp_path):
    staging, production = graph(NODES, "staging", tmp_path), graph(NODES, "production", tmp_path)
    assert "packer_template.web" in staging and "packer_template.web" not in production
    promoted = production["ami.web"].attributes
    assert promoted["promote_from"] == {"environment": "staging", "region": "us-west-2"}
    assert production["ami.web"].depends_on == ()  # built from nothing here
    # Region, instance type, tags and security groups differ; the image is the same build.
    assert promoted[IMAGE_DIGEST] == staging["ami.web"].attributes[IMAGE_DIGEST]
    assert staging["ami.web"].attributes["region"] == "us-west-2" and promoted["region"] == "us-east-1"
    assert production["launch_template.web"].attributes["instance_type"] == "m3.large"
    assert production["role.web"].attributes["path"] == "roles/production/role-web.json"


def test_what_is_baked_into_the_image_makes_another_image_and_says_what(tmp_path):
    nodes = copy.deepcopy(NODES)
    nodes["__environments__"]["production"]["default_attributes"] = {"environment": "production"}
    production = graph(nodes, "production", tmp_path)
    assert production["ami.web"].attributes["promote_from"]["differs"] == (
        "source_ami (or its source group's image); the Chef role (default_attributes)")  # base differs too
    nodes = copy.deepcopy(NODES)
    nodes["__environments__"]["production"]["groups"]["base"] = {"ssh_username": "admin"}
    differs = graph(nodes, "production", tmp_path)["ami.web"].attributes["promote_from"]["differs"]
    assert differs.startswith("source_ami (or its source group's image)")  # web is built on another base


def test_a_change_to_a_source_group_changes_the_images_built_on_it(tmp_path):
    before = graph(NODES, "staging", tmp_path)
    nodes = copy.deepcopy(NODES)
    nodes["base"]["run_list"] = ["recipe[acme::hardening]"]
    after = graph(nodes, "staging", tmp_path)
    for address in ("ami.base", "ami.web"):
        assert before[address].attributes[IMAGE_DIGEST] != after[address].attributes[IMAGE_DIGEST]


def test_the_image_template_leaves_out_what_is_the_environments():
    template = {"variables": {"region": "us-east-1", "source_ami": "", "source_hash": ""},
                "builders": [{"type": "amazon-ebs", "region": "x", "instance_type": "m1.large",
                              "ami_name": "web-staging", "temporary_key_pair_name": "infra.acme/staging.web",
                              "source_ami_filter": {}, "ssh_username": "ubuntu"}],
                "provisioners": [{"type": "chef-solo", "roles_path": "roles/staging", "run_list": ["role[role-web]"]}]}
    assert image_template(template) == {"variables": {"source_hash": ""},
                                        "builders": [{"type": "amazon-ebs", "ssh_username": "ubuntu"}],
                                        "provisioners": [{"type": "chef-solo", "run_list": ["role[role-web]"]}]}


def promoted_plan(tmp_path, found=None, source=None, state=State()):
    production = graph(NODES, "production", tmp_path)
    scope = {"ami.web", "launch_template.web"}
    return production, plan(production, {"ami.web": found} if found else {}, state, scope=scope,
                            sources={"ami.web": source} if source else {})


def source_image(digest: str) -> Observed:
    return Observed(attributes={"environment": "staging", "region": "us-west-2", "image_id": "ami-0staging",
                                "name": "web-staging-1", "account": "123456789012", "source_hash": "abc",
                                IMAGE_DIGEST: digest}, outputs={"image_id": "ami-0staging"})


def copy_here(graph_, image_id="ami-0copy", tags=None) -> Observed:
    wanted = graph_["ami.web"].attributes
    return Observed(attributes={"region": "us-east-1", IMAGE_DIGEST: wanted[IMAGE_DIGEST], "source_hash": "abc",
                                "tags": tags if tags is not None else wanted["tags"]},
                    outputs={"image_id": image_id, "name": "web-production-from-ami-0staging"})


def test_with_nothing_applied_in_staging_the_plan_stops_with_one_line_naming_that_apply(tmp_path):
    with pytest.raises(PromotionPending) as stopped:
        promoted_plan(tmp_path)
    message = str(stopped.value)
    assert "\n" not in message and message.startswith("ami.web: waiting for staging: no AMI of web built from these "
                                                      "inputs (image digest ")
    assert message.endswith(") in staging (us-west-2) yet; apply there first: infra --env staging apply")


def test_staging_built_it_so_production_promotes_it_and_its_fleet_waits_for_the_copy(tmp_path):
    production = graph(NODES, "production", tmp_path)
    _, result = promoted_plan(tmp_path, source=source_image(production["ami.web"].attributes[IMAGE_DIGEST]))
    actions = {a.address: a for a in result.actions}
    promote = actions["ami.web"]
    assert promote.action is ActionKind.PROMOTE and result.summary()["promote"] == 1
    assert promote.after["source"] == {"image_id": "ami-0staging", "region": "us-west-2", "account": "123456789012",
                                       "name": "web-staging-1", "source_hash": "abc"}
    assert promote.reason == ("staging built ami-0staging (web-staging-1) from the same inputs in us-west-2: copied "
                              "to us-east-1")
    assert actions["launch_template.web"].after["image_id"] == "${ami.web.image_id}"  # known after the copy


def test_a_copy_of_the_same_inputs_is_enough_and_its_tags_are_put_right_in_place(tmp_path):
    production = graph(NODES, "production", tmp_path)
    _, result = promoted_plan(tmp_path, found=copy_here(production))  # no staging AMI needed any more
    ami = next(a for a in result.actions if a.address == "ami.web")
    assert ami.action is ActionKind.NOOP and ami.outputs["image_id"] == "ami-0copy"
    assert ami.reason == "promoted from staging, built there from the same inputs"
    _, result = promoted_plan(tmp_path, found=copy_here(production, tags={"Name": "web"}))
    ami = next(a for a in result.actions if a.address == "ami.web")
    assert ami.action is ActionKind.UPDATE and ami.reason == "changed: tags"


def test_an_earlier_copy_of_the_inputs_wanted_again_is_used_again(tmp_path):
    production = graph(NODES, "production", tmp_path)
    newest = Observed(attributes={"region": "us-east-1", IMAGE_DIGEST: "other", "source_hash": "def", "tags": {}},
                      outputs={"image_id": "ami-0newer"}, earlier={"abc": copy_here(production, "ami-0older")})
    _, result = promoted_plan(tmp_path, found=newest)
    ami = next(a for a in result.actions if a.address == "ami.web")
    assert ami.action is ActionKind.NOOP and ami.outputs["image_id"] == "ami-0older"
    assert ami.reason.endswith("; uses ami-0older, an earlier promotion of them")
