"""Fleet logic without a server: recorded one-off instances, observation shapes, keys, deploy reports."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from infra.config import parse_config
from infra.operations.fleet import FleetError, instance_resource, key_name, public_key
from infra.providers.aws import asg_observed, launch_templates
from infra.providers.aws.common import as_config_names, in_wanted_order, managed_tags
from infra.providers.aws.ssm import NodeResult, RegionDeploy
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import Graph, desired_graph, with_recorded
from infra.reconciler.planner import plan
from infra.reconciler.refs import ref
from infra.reconciler.resources import Observed
from infra.state.model import ResourceState, State

NODES = """{
  "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": false,
               "security_groups": ["internal"]},
  "web": {"autoscale": {"node_min": 2, "node_max": 2}},
  "api": {"packer": true}
}"""


def config():
    return parse_config(NODES)


def recorded_instance(group: str = "web", name: str = "w1") -> tuple[str, ResourceState]:
    return f"instance.{group}.{name}", ResourceState(kind="instance", group=group,
                                                     attributes={"region": "us-east-1", "instance_type": "m1.large"},
                                                     outputs={"id": "i-1"})


# -- recorded one-off instances ----------------------------------------------------------------

def test_recorded_instances_of_existing_groups_join_the_desired_graph(tmp_path):
    address, entry = recorded_instance()
    gone_address, gone = recorded_instance(group="old")
    state = State(resources={address: entry, gone_address: gone})
    graph = with_recorded(desired_graph(config(), tmp_path), state, config().groups)
    assert address in graph and gone_address not in graph
    assert graph[address].name == "w1" and graph[address].attributes == entry.attributes


def test_the_planner_keeps_a_recorded_instance_and_deletes_one_whose_group_went(tmp_path):
    address, entry = recorded_instance()
    gone_address, gone = recorded_instance(group="old", name="w2")
    state = State(resources={address: entry, gone_address: gone})
    graph = with_recorded(Graph({}), state, ["web"])
    observed = {address: Observed(attributes=dict(entry.attributes), outputs=entry.outputs),
                gone_address: Observed(attributes=dict(gone.attributes), outputs=gone.outputs)}
    actions = {a.address: a.action for a in plan(graph, observed, state).actions}
    assert actions == {address: ActionKind.NOOP, gone_address: ActionKind.DELETE}


def test_nothing_recorded_leaves_the_graph_as_it_is(tmp_path):
    graph = desired_graph(config(), tmp_path)
    assert with_recorded(graph, State(), config().groups) is graph


def test_an_instance_boots_the_groups_ami_or_its_source_image(tmp_path):
    web = instance_resource(config().group("web"), "w1", "deploy", "us-east-1a", tmp_path, "ops")
    assert web.address == "instance.web.w1" and web.depends_on == ()
    assert web.attributes["image_id"] == "ami-1ebb2077" and web.attributes["key_name"] == "deploy"
    assert web.attributes["tags"]["Name"] == "w1" and web.attributes["tags"]["group"] == "web"
    assert '"id": "w1"' in web.attributes["user_data"]
    api = instance_resource(config().group("api"), "a1", "deploy", "us-east-1a", tmp_path, "ops")
    assert api.attributes["image_id"] == ref("ami.api", "image_id") and api.depends_on == ("ami.api",)


# -- observation shapes ------------------------------------------------------------------------

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def asg(name="web-1", created="2024-01-01", zones=ZONES, tags=None):
    return {"AutoScalingGroupName": name, "CreatedTime": created, "MinSize": 1, "MaxSize": 2, "DesiredCapacity": 1,
            "AvailabilityZones": list(zones), "HealthCheckType": "EC2", "HealthCheckGracePeriod": 300,
            "TerminationPolicies": ["OldestInstance"], "VPCZoneIdentifier": "",
            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "3"},
            "Tags": [{"Key": k, "Value": v} for k, v in
                     {"group": "web", "infra:managed": "true", **(tags or {})}.items()]}


def test_an_asg_in_every_zone_reads_as_no_zones_when_none_are_configured():
    observed = asg_observed.observed("us-east-1", asg(zones=reversed(ZONES)), {"zones": []}, ZONES)
    assert observed.attributes["zones"] == []
    pinned = asg_observed.observed("us-east-1", asg(zones=["us-east-1b", "us-east-1a"]),
                                   {"zones": ["us-east-1a", "us-east-1b"]}, ZONES)
    assert pinned.attributes["zones"] == ["us-east-1a", "us-east-1b"]
    fewer = asg_observed.observed("us-east-1", asg(zones=["us-east-1a"]), {"zones": []}, ZONES)
    assert fewer.attributes["zones"] == ["us-east-1a"]


def test_asg_timings_come_from_its_tags_and_stay_out_of_its_tags():
    tags = {"infra:timeout": "120", "infra:healthy_deadline": "600"}
    observed = asg_observed.observed("us-east-1", asg(tags=tags), {}, ZONES)
    assert observed.attributes["timeout"] == 120 and observed.attributes["healthy_deadline"] == 600
    assert observed.attributes["tags"] == {"group": "web", "infra:managed": "true"}
    assert observed.attributes["launch_template_version"] == "3"
    assert observed.outputs == {"name": "web-1"}


def test_the_live_asg_is_the_newest_one_not_mid_roll():
    old, pending = asg("web-1", "2024-01-01"), asg("web-2", "2024-02-01", tags={"infra:roll": "pending"})
    assert asg_observed.live_and_leftovers([pending, old]) == (old, [pending])
    newer = asg("web-3", "2024-03-01")
    assert asg_observed.live_and_leftovers([old, newer]) == (newer, [old])


def test_a_launch_template_reads_back_in_the_configs_words():
    user_data = "#!/bin/bash\necho hi\n"
    version = {"VersionNumber": 4, "LaunchTemplateData": {
        "ImageId": "ami-1", "InstanceType": "m1.large", "SecurityGroupIds": ["sg-2", "sg-1"],
        "UserData": base64.b64encode(user_data.encode()).decode(),
        "IamInstanceProfile": {"Arn": "arn:aws:iam::1:instance-profile/ssm"}}}
    template = {"LaunchTemplateId": "lt-1", "LaunchTemplateName": "web"}
    observed = launch_templates.observed_template("us-east-1", template, version, {"group": "web", "aws:x": "y"},
                                          {"sg-1": "internal", "sg-2": "bee"},
                                          {"security_groups": ["internal", "bee"]})
    attributes = observed.attributes
    assert attributes["user_data"] == user_data
    assert attributes["security_groups"] == ["internal", "bee"]
    assert attributes["iam_instance_profile"] == "ssm" and attributes["key_name"] is None
    assert attributes["tags"] == {"group": "web"}
    assert observed.outputs == {"id": "lt-1", "name": "web", "version": "4"}


def test_security_groups_keep_ids_where_the_config_gave_ids():
    assert as_config_names(["sg-1", "sg-2"], {"sg-1": "a", "sg-2": "b"}, ["sg-2", "a"]) == ["sg-2", "a"]
    assert as_config_names(["sg-9"], {}, []) == ["sg-9"]
    assert in_wanted_order(["b", "a"], ["a", "b"]) == ["a", "b"]
    assert in_wanted_order(["b", "c"], ["a", "b"]) == ["b", "c"]
    assert managed_tags({"aws:cloudformation": "x", "infra:roll": "pending", "group": "g"}) == {"group": "g"}


# -- keys --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_the_public_key_of_a_private_key(tmp_path: Path, kind: str):
    path = tmp_path / "ops.pem"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    expected = path.with_name("ops.pem.pub").read_text().split()[:2]
    assert public_key(path).split()[:2] == expected  # from the .pub beside it
    path.with_name("ops.pem.pub").unlink()
    assert public_key(path).split()[:2] == expected  # derived from the private key


def test_key_names_and_unreadable_keys(tmp_path: Path):
    assert key_name(Path("keys/deploy.pem")) == "deploy" and key_name(Path("id_ed25519")) == "id_ed25519"
    with pytest.raises(FleetError, match="no such key file"):
        public_key(tmp_path / "missing.pem")
    encrypted = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(encrypted)], check=True)
    encrypted.with_name("locked.pub").unlink()
    with pytest.raises(FleetError, match="encrypted"):
        public_key(encrypted)


# -- deploy reports ----------------------------------------------------------------------------

def test_a_deploy_is_ok_only_when_ssm_and_every_node_say_so():
    assert RegionDeploy("us-east-1", ["web"], command_id="c", status="Success").ok
    assert not RegionDeploy("us-east-1", ["web"], command_id="c", status="Failed", errors=1).ok
    assert not RegionDeploy("us-east-1", ["web"], command_id="c", status="InProgress").ok
    failed_node = RegionDeploy("us-east-1", ["web"], command_id="c", status="Success",
                               nodes=[NodeResult("i-1", "web", "Success"), NodeResult("i-2", "web", "Failed", 1)])
    assert not failed_node.ok
    assert RegionDeploy("us-east-1", ["web"]).ok  # nothing to deploy is not a failure


def test_a_deploy_counts_the_nodes_results_over_ssms_own_counts():
    report = RegionDeploy("us-east-1", ["web"], command_id="c", status="Success", targets=4, completed=4)
    report.count_nodes([NodeResult("i-1", "web", "Success"), NodeResult("i-2", "web", "TimedOut")])
    assert (report.targets, report.completed, report.errors) == (2, 2, 1) and not report.ok
    unknown = RegionDeploy("us-east-1", ["web"], command_id="c", status="Success", targets=4, completed=4)
    unknown.count_nodes(None)  # the endpoint cannot tell per node: SSM's counts stand
    assert (unknown.targets, unknown.completed, unknown.errors) == (4, 4, 0) and unknown.ok
