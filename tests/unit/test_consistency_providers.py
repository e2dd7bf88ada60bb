"""Eventual consistency in the providers: each create-then-use and delete-then-delete step that AWS
may answer "not yet" waits for it, never makes a second one, and says so; on stub clients and a fake
clock (nothing sleeps). The retry itself: test_consistency.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from infra.errors import ProviderError
from infra.providers.aws.common import AwsContext
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action
from tests.support.fake_clock import FakeClock
from tests.unit.test_consistency import error, patience


class StubClients:
    region = "us-east-1"

    def __init__(self, ec2: Any, clock: FakeClock) -> None:
        self.ec2, self.patience = ec2, patience(clock)

    def client(self, service: str, region: str | None = None) -> Any:
        return self.ec2

    def interrupt(self) -> None:
        self.patience.interrupt()


class StubEc2:
    """Launch templates and instances, with "not yet" answers where a test asks for them."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failures: dict[str, list[Exception]] = {}
        self.templates: dict[str, dict] = {}
        self.tokens: list[str] = []
        self.states: list[str] = []  # what DescribeInstances says, one answer each (then "running")

    def _maybe_fail(self, operation: str) -> None:
        self.calls.append(operation)
        if self.failures.get(operation):
            raise self.failures[operation].pop(0)

    def create_launch_template(self, LaunchTemplateName: str, **_: Any) -> dict:
        self._maybe_fail("create_launch_template")
        if LaunchTemplateName in self.templates:
            raise error("InvalidLaunchTemplateName.AlreadyExistsException",
                        f"Launch template name already in use: {LaunchTemplateName}")
        made = {"LaunchTemplateName": LaunchTemplateName, "LaunchTemplateId": f"lt-{len(self.templates) + 1}",
                "Tags": [{"Key": "infra:owner", "Value": "proj"}], "versions": 1}
        self.templates[LaunchTemplateName] = made
        return {"LaunchTemplate": made}

    def describe_launch_templates(self, LaunchTemplateNames: list[str]) -> dict:
        self._maybe_fail("describe_launch_templates")
        return {"LaunchTemplates": [self.templates[n] for n in LaunchTemplateNames if n in self.templates]}

    def create_launch_template_version(self, LaunchTemplateId: str, **_: Any) -> dict:
        self._maybe_fail("create_launch_template_version")
        template = next(t for t in self.templates.values() if t["LaunchTemplateId"] == LaunchTemplateId)
        template["versions"] += 1
        return {"LaunchTemplateVersion": {"VersionNumber": template["versions"]}}

    def modify_launch_template(self, LaunchTemplateId: str, DefaultVersion: str) -> None:
        self._maybe_fail("modify_launch_template")

    def run_instances(self, ClientToken: str, **_: Any) -> dict:
        self.tokens.append(ClientToken)
        self._maybe_fail("run_instances")
        return {"Instances": [{"InstanceId": "i-0new"}]}

    def describe_instances(self, InstanceIds: list[str]) -> dict:
        self._maybe_fail("describe_instances")
        state = self.states.pop(0) if self.states else "running"
        return {"Reservations": [{"Instances": [{"InstanceId": InstanceIds[0], "State": {"Name": state}}]}]}

    def describe_key_pairs(self, KeyNames: list[str]) -> dict:
        self._maybe_fail("describe_key_pairs")
        return {}

    def import_key_pair(self, **_: Any) -> dict:
        self._maybe_fail("import_key_pair")
        return {}


TEMPLATE = {"region": "us-east-1", "image_id": "ami-1", "instance_type": "t3.micro", "security_groups": [],
            "key_name": None, "iam_instance_profile": None, "user_data": "", "tags": {"group": "web"}}


def templates(ec2: StubEc2, clock: FakeClock):
    from infra.providers.aws.launch_templates import LaunchTemplatesProvider

    config = SimpleNamespace(owner="proj")
    return LaunchTemplatesProvider(AwsContext(config=config, clients=StubClients(ec2, clock)))  # type: ignore[arg-type]


def test_a_launch_template_that_exists_already_gets_a_new_version_not_a_second_template():
    """The plan's describe did not show it yet (or an apply died before recording it): names are unique."""
    clock, ec2 = FakeClock(), StubEc2()
    ec2.templates["proj.web"] = {"LaunchTemplateName": "proj.web", "LaunchTemplateId": "lt-9", "versions": 1,
                                 "Tags": [{"Key": "infra:owner", "Value": "proj"}]}
    ec2.failures["describe_launch_templates"] = [error("InvalidLaunchTemplateName.NotFoundException", "not found")]
    said: list[str] = []
    action = Action(address="launch_template.web", kind="launch_template", group="web", action=ActionKind.CREATE,
                    after=TEMPLATE)
    outputs = templates(ec2, clock).apply(action, TEMPLATE, said.append)
    assert outputs == {"id": "lt-9", "name": "proj.web", "version": "2"}
    assert list(ec2.templates) == ["proj.web"]
    assert said[-1] == "launch template proj.web (lt-9) was there already: made version 2 of it the default"


def test_a_launch_template_of_that_name_that_is_not_ours_is_an_error():
    clock, ec2 = FakeClock(), StubEc2()
    ec2.templates["proj.web"] = {"LaunchTemplateName": "proj.web", "LaunchTemplateId": "lt-9", "versions": 1,
                                 "Tags": []}
    action = Action(address="launch_template.web", kind="launch_template", group="web", action=ActionKind.CREATE,
                    after=TEMPLATE)
    with pytest.raises(ProviderError, match="a launch template named proj.web exists in AWS but is not tagged"):
        templates(ec2, clock).apply(action, TEMPLATE, lambda line: None)


def test_a_new_version_not_visible_yet_is_made_the_default_once_it_shows():
    clock, ec2 = FakeClock(), StubEc2()
    ec2.templates["proj.web"] = {"LaunchTemplateName": "proj.web", "LaunchTemplateId": "lt-9", "versions": 1}
    ec2.failures["modify_launch_template"] = [error("InvalidLaunchTemplateId.VersionNotFound", "version 2")] * 2
    said: list[str] = []
    before = {**TEMPLATE, "image_id": "ami-0", "id": "lt-9", "name": "proj.web", "version": "1"}
    action = Action(address="launch_template.web", kind="launch_template", group="web", action=ActionKind.REPLACE,
                    before=before, after=TEMPLATE)
    outputs = templates(ec2, clock).apply(action, TEMPLATE, said.append)
    assert outputs["version"] == "2" and ec2.calls.count("modify_launch_template") == 3
    assert ec2.calls.count("create_launch_template_version") == 1
    assert said[0].startswith("waiting for version 2 of launch template lt-9 to show")


def instances(ec2: StubEc2, clock: FakeClock, root):
    from infra.providers.aws.instances import InstancesProvider

    layout = SimpleNamespace(instance_dna=lambda group, instance: f"dna/{group}-{instance}.json")
    config = SimpleNamespace(owner="proj", layout=layout)
    return InstancesProvider(AwsContext(config=config, clients=StubClients(ec2, clock), root=root))  # type: ignore


def test_an_instance_launched_with_a_key_pair_not_visible_yet_is_launched_once_with_one_client_token(tmp_path):
    clock, ec2 = FakeClock(), StubEc2()
    ec2.failures["run_instances"] = [error("InvalidKeyPair.NotFound", "The key pair 'ops' does not exist")] * 3
    attributes = {**TEMPLATE, "zone": "us-east-1a", "key_name": "ops"}
    action = Action(address="instance.web.one", kind="instance", group="web", action=ActionKind.CREATE,
                    after=attributes)
    outputs = instances(ec2, clock, tmp_path).apply(action, attributes, lambda line: None)
    assert outputs["id"] == "i-0new"
    assert len(ec2.tokens) == 4 and len(set(ec2.tokens)) == 1  # an attempt that went through is not repeated
    assert (tmp_path / "dna/web-i-0new.json").exists()


def test_a_new_instance_unknown_by_id_then_pending_is_waited_for_saying_so(tmp_path):
    clock, ec2 = FakeClock(), StubEc2()
    ec2.failures["describe_instances"] = [error("InvalidInstanceID.NotFound", "The instance ID 'i-0new' does not "
                                                                              "exist")] * 2
    ec2.states = ["pending"] * 6
    said: list[str] = []
    attributes = {**TEMPLATE, "zone": "us-east-1a"}
    action = Action(address="instance.web.one", kind="instance", group="web", action=ActionKind.CREATE,
                    after=attributes)
    assert instances(ec2, clock, tmp_path).apply(action, attributes, said.append)["id"] == "i-0new"
    assert ec2.calls.count("describe_instances") == 2 + 7
    assert any(line.startswith("waiting for instance i-0new to show") for line in said)
    assert any(line.startswith("i-0new: pending; waiting") for line in said)
    assert said[-1].startswith("i-0new is running; wrote dna/web-i-0new.json")


def test_a_new_instance_that_ends_instead_of_running_fails_in_one_line(tmp_path):
    clock, ec2 = FakeClock(), StubEc2()
    ec2.states = ["pending", "terminated"]
    attributes = {**TEMPLATE, "zone": "us-east-1a"}
    action = Action(address="instance.web.one", kind="instance", group="web", action=ActionKind.CREATE,
                    after=attributes)
    with pytest.raises(ProviderError, match=r"^i-0new is terminated instead of running; see why with aws ec2"):
        instances(ec2, clock, tmp_path).apply(action, attributes, lambda line: None)


def test_a_key_pair_the_describe_did_not_show_yet_is_not_imported_twice(tmp_path):
    clock, ec2 = FakeClock(), StubEc2()
    ec2.failures["describe_key_pairs"] = [error("InvalidKeyPair.NotFound", "The key pair 'ops' does not exist")]
    ec2.failures["import_key_pair"] = [error("InvalidKeyPair.Duplicate", "The keypair 'ops' already exists.")]
    assert instances(ec2, clock, tmp_path).ensure_key_pair("us-east-1", "ops", "ssh-ed25519 AAAA") is False


class StubAutoscaling:
    def __init__(self, busy: int) -> None:
        self.busy, self.deletes = busy, 0

    def delete_auto_scaling_group(self, AutoScalingGroupName: str, ForceDelete: bool) -> None:
        self.deletes += 1
        if self.deletes <= self.busy:
            raise error("ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling "
                                                     "activities in progress for that group.")


def test_an_asg_busy_scaling_is_deleted_once_its_activity_ends():
    from infra.providers.aws import asg

    clock, said = FakeClock(), []
    client = StubAutoscaling(busy=2)
    asg.delete(client, "web-1", said.append, patience(clock))
    assert client.deletes == 3
    assert said[0].startswith("waiting for the scaling activities of web-1 to end (deleting it)")
    assert said[-1] == "deleted web-1 (its instances terminate)"


def test_an_asg_that_stays_busy_fails_its_deletion_in_one_line():
    from infra.providers.aws import asg

    clock = FakeClock()
    with pytest.raises(ProviderError, match=r"^waited 120s for the scaling "
                                            r"activities of web-1 to end"):
        asg.delete(StubAutoscaling(busy=10**6), "web-1", lambda line: None, patience(clock))


class StubImages:
    """EC2 for a new AMI: unknown by its id `unknown` times, then described; tags noted."""

    def __init__(self, unknown: int) -> None:
        self.unknown, self.describes, self.tagged = unknown, 0, []

    def describe_images(self, ImageIds: list[str]) -> dict:
        self.describes += 1
        if self.describes <= self.unknown:
            raise error("InvalidAMIID.NotFound", f"The image id '[{ImageIds[0]}]' does not exist")
        return {"Images": [{"ImageId": ImageIds[0], "Name": "web-1", "State": "available", "Tags": []}]}

    def create_tags(self, Resources: list[str], Tags: list[dict]) -> None:
        self.tagged.append(Resources)


def test_a_new_ami_unknown_by_its_id_is_waited_for_then_marked_as_ours():
    from infra.providers.aws.images import ImagesProvider

    clock, ec2, said = FakeClock(), StubImages(unknown=3), []
    config = SimpleNamespace(owner="proj")
    provider = ImagesProvider(AwsContext(config=config, clients=StubClients(ec2, clock)))  # type: ignore[arg-type]
    provider.__dict__["builds"] = SimpleNamespace(build=lambda group, attributes, region, progress: "ami-0new")
    outputs = provider.build("web", {"region": "us-east-1", "tags": {}}, said.append)
    assert outputs == {"image_id": "ami-0new", "name": "web-1"} and ec2.describes == 4
    assert ec2.tagged == [["ami-0new"]]  # its marks (group, managed, owner) put on once it shows
    assert said[0].startswith("waiting for the new AMI ami-0new to show")
