"""The roll as the autoscaling provider runs it, on a fake autoscaling API and a fake clock: the new
ASG is made, waited for, and either kept (the old one removed) or deleted (the old one kept)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from infra.aws.consistency import Patience
from infra.errors import ProviderError
from tests.support.fake_clock import FakeClock


class FakeAutoscaling:
    """Just enough of the autoscaling (and EC2) API for a roll without target groups; new groups
    get `healthy` healthy instances."""

    def __init__(self, healthy: int) -> None:
        self.healthy = healthy
        self.groups: dict = {"web-old": {"Instances": []}}
        self.calls: list[tuple[str, str]] = []
        self.not_yet = 0  # how many creates Auto Scaling answers "launch template does not exist" first
        self.activities: list[dict] = []

    def create_auto_scaling_group(self, AutoScalingGroupName: str, **settings) -> None:
        self.calls.append(("create", AutoScalingGroupName))
        if self.not_yet:
            self.not_yet -= 1
            raise botocore.exceptions.ClientError({"Error": {"Code": "ValidationError", "Message": (
                "You must use a valid fully-formed launch template. The specified launch template, with "
                "template ID lt-1, does not exist.")}}, "CreateAutoScalingGroup")
        instances = [{"InstanceId": f"i-{n}", "LifecycleState": "InService", "HealthStatus": "Healthy"}
                     for n in range(self.healthy)]
        self.groups[AutoScalingGroupName] = {"Instances": instances, **settings}

    def describe_auto_scaling_groups(self, AutoScalingGroupNames: list[str]) -> dict:
        return {"AutoScalingGroups": [self.groups[n] for n in AutoScalingGroupNames if n in self.groups]}

    def delete_auto_scaling_group(self, AutoScalingGroupName: str, ForceDelete: bool) -> None:
        self.calls.append(("delete", AutoScalingGroupName))
        del self.groups[AutoScalingGroupName]

    def delete_tags(self, Tags: list[dict]) -> None:
        self.calls.append(("untag", Tags[0]["ResourceId"]))

    def create_or_update_tags(self, Tags: list[dict]) -> None:
        self.calls.append(("tag " + ",".join(f"{t['Key']}={t['Value']}" for t in Tags), Tags[0]["ResourceId"]))

    def describe_launch_template_versions(self, LaunchTemplateId: str, Versions: list[str]) -> dict:
        return {"LaunchTemplateVersions": [{"LaunchTemplateData": {"ImageId": "ami-00000001"}}]}

    def describe_scaling_activities(self, AutoScalingGroupName: str, MaxRecords: int) -> dict:
        return {"Activities": self.activities}


class FakeClients:
    region = None

    def __init__(self, autoscaling: FakeAutoscaling, clock: FakeClock | None = None) -> None:
        self.autoscaling = autoscaling
        clock = clock or FakeClock()
        self.patience = Patience(timeout=120, clock=clock, sleep=clock.sleep)

    def interrupt(self) -> None:
        self.patience.interrupt()

    def client(self, service: str, region: str | None = None):
        return self.autoscaling


ATTRIBUTES = {"region": "us-east-1", "min_size": 2, "max_size": 2, "desired_capacity": 2, "zones": ["us-east-1a"],
              "subnets": [], "health_check_type": "EC2", "health_check_grace": 300,
              "termination_policies": ["OldestInstance"], "launch_template_id": "lt-1",
              "launch_template_version": "2", "timeout": 30, "healthy_deadline": 60, "target_groups": [],
              "rollout": None, "tags": {"group": "web", "infra:managed": "true"}}


def replace(healthy: int):
    from infra.config import parse_config
    from infra.providers.aws.autoscaling import AutoscalingProvider
    from infra.providers.aws.common import AwsContext
    from infra.reconciler.actions import ActionKind
    from infra.reconciler.plan import Action

    autoscaling = FakeAutoscaling(healthy)
    clock = FakeClock()
    context = AwsContext(config=parse_config('{"web": {"region": "us-east-1", "instance_type": "m1.small", '
                                             '"source_ami": "ami-1ebb2077"}}'), clients=FakeClients(autoscaling, clock))
    provider = AutoscalingProvider(context, sleep=clock.sleep, clock=clock)
    action = Action(address="asg.web", kind="asg", group="web", action=ActionKind.REPLACE,
                    before={**ATTRIBUTES, "name": "web-old", "launch_template_version": "1"}, after=ATTRIBUTES)
    return provider, action, autoscaling, clock


def test_a_roll_creates_the_new_asg_waits_then_removes_the_old_one_and_records_the_way_back():
    provider, action, autoscaling, clock = replace(healthy=2)
    outputs = provider.apply(action, ATTRIBUTES, lambda message: None)
    new = outputs["name"]
    assert new.startswith("web-") and new != "web-old"
    assert outputs["previous"] == {"launch_template_id": "lt-1", "launch_template_version": "1",
                                   "image_id": "ami-00000001"}
    # healthy, it is marked so before the hold: killed then, the next plan keeps it and drops the old one
    assert autoscaling.calls == [("create", new), ("tag infra:roll=holding", new), ("untag", new),
                                 ("delete", "web-old")]
    assert clock.now == pytest.approx(30)  # the old one stayed for the group's timeout
    tags = {t["Key"]: t for t in autoscaling.groups[new]["Tags"]}
    assert tags["infra:roll"]["Value"] == "pending" and tags["infra:roll"]["PropagateAtLaunch"] is False
    assert tags["infra:previous"]["Value"] == "lt-1:1:ami-00000001"


def test_a_new_asg_that_never_gets_healthy_is_deleted_and_the_old_one_kept():
    provider, action, autoscaling, clock = replace(healthy=1)
    with pytest.raises(ProviderError, match=r"did not become healthy within 60s \(1/2 instances InService and "
                                            r"Healthy\).*rolled back, deleted web-[0-9a-f]{8} and kept web-old"):
        provider.apply(action, ATTRIBUTES, lambda message: None)
    assert list(autoscaling.groups) == ["web-old"]
    assert clock.now == pytest.approx(60)


def test_a_first_asg_that_never_gets_healthy_is_kept_and_reported():
    provider, action, autoscaling, clock = replace(healthy=0)
    create = action.model_copy(update={"action": action.action.CREATE, "before": None})
    with pytest.raises(ProviderError, match="is kept: see why with aws autoscaling describe-scaling-activities"):
        provider.apply(create, ATTRIBUTES, lambda message: None)
    assert len(autoscaling.groups) == 2


def test_a_roll_interrupted_while_it_waits_is_undone_and_keeps_the_old_asg():
    provider, action, autoscaling, clock = replace(healthy=1)
    waited: list[float] = []

    def terminated_during_the_wait(seconds: float) -> None:
        waited.append(seconds)
        clock.sleep(seconds)
        provider.interrupt()  # SIGTERM reached infra while the new ASG was not healthy yet

    provider.sleep = terminated_during_the_wait
    with pytest.raises(ProviderError, match=r"infra was stopped \(Ctrl-C or SIGTERM\) during the launch: rolled "
                                            r"back, deleted web-[0-9a-f]{8} and kept web-old"):
        provider.apply(action, ATTRIBUTES, lambda message: None)
    assert len(waited) == 1 and list(autoscaling.groups) == ["web-old"]


def test_a_launch_template_auto_scaling_does_not_see_yet_is_waited_for_then_the_roll_goes_on():
    provider, action, autoscaling, clock = replace(healthy=2)
    autoscaling.not_yet = 3  # terraform-provider-aws #5217: CreateAutoScalingGroup right after the template
    said: list[str] = []
    outputs = provider.apply(action, ATTRIBUTES, said.append)
    assert [c for c in autoscaling.calls if c[0] == "create"] == [("create", outputs["name"])] * 4
    assert list(autoscaling.groups) == [outputs["name"]]  # one new ASG, the old one gone after the roll
    assert any(line.startswith("waiting for launch template lt-1 version 2 to reach Auto Scaling") and
               "ValidationError" in line for line in said)


def test_a_launch_template_never_seen_fails_the_roll_after_the_consistency_timeout_and_keeps_the_old_asg():
    provider, action, autoscaling, clock = replace(healthy=2)
    autoscaling.not_yet = 10**6
    with pytest.raises(ProviderError, match=r"waited 1[2-3]\ds for launch template lt-1 version 2 to reach Auto "
                                            r"Scaling .* AWS still says ValidationError: You must use a valid"):
        provider.apply(action, ATTRIBUTES, lambda message: None)
    assert list(autoscaling.groups) == ["web-old"]
    assert 120 <= clock.now < 140


def test_a_launch_that_failed_in_a_zone_is_named_when_the_new_asg_is_not_healthy_in_time():
    provider, action, autoscaling, clock = replace(healthy=1)
    autoscaling.activities = [
        {"StatusCode": "Successful", "StartTime": "2026-12-07T08:00:00Z", "StatusMessage": ""},
        {"StatusCode": "Failed", "StartTime": "2026-12-07T08:00:01Z", "StatusMessage":
         "We currently do not have sufficient m5.large capacity in the Availability Zone you requested "
         "(us-east-1a). Launching EC2 instance failed."}]
    with pytest.raises(ProviderError, match=r"1 instance\(s\) not launched yet \(a launch failed: We currently "
                                            r"do not have sufficient m5.large capacity .*\(us-east-1a\).*rolled back"):
        provider.apply(action, ATTRIBUTES, lambda message: None)
    assert list(autoscaling.groups) == ["web-old"]
