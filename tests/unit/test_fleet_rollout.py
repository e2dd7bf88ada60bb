"""Blue/green rolls without AWS: the waits against a fake clock, and the roll against a fake ASG API."""

from __future__ import annotations

from typing import Any

import pytest

from infra.errors import ProviderError
from infra.providers.aws.autoscaling import AutoscalingProvider
from infra.providers.aws.rollout import Health, RollFailed, Rollout, poll_interval
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action
from tests.support.fake_clock import FakeClock


def rollout(counts, wanted: int = 2, clock: FakeClock | None = None):
    """A Rollout whose health answers come from `counts` (the last one repeats)."""
    clock = clock or FakeClock()
    answers = list(counts)
    messages: list[str] = []

    def healthy() -> int:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return Rollout(Health(healthy, wanted), progress=messages.append, sleep=clock.sleep, clock=clock), clock, messages


def test_poll_interval_follows_the_deadline_within_bounds():
    assert poll_interval(2) == 0.1
    assert poll_interval(60) == 3
    assert poll_interval(3600) == 10


def test_a_healthy_asg_is_accepted_without_sleeping():
    roll, clock, messages = rollout([2])
    roll.wait_healthy("web-1", 600)
    assert clock.sleeps == []
    assert messages == ["web-1: 2/2 instances InService and Healthy"]


def test_waits_until_every_instance_is_healthy():
    roll, clock, messages = rollout([0, 1, 1, 2])
    roll.wait_healthy("web-1", 600)
    assert len(clock.sleeps) == 3
    assert messages[0].startswith("web-1: 0/2") and messages[-1] == "web-1: 2/2 instances InService and Healthy"
    assert len(messages) == 3  # progress only when the count changes


def test_gives_up_at_the_deadline():
    roll, clock, _ = rollout([1])
    with pytest.raises(RollFailed, match=r"web-1 did not become healthy within 5s \(1/2 instances"):
        roll.wait_healthy("web-1", 5)
    assert clock.now == pytest.approx(5)


def test_hold_keeps_the_old_asg_for_the_timeout_while_the_new_one_stays_healthy():
    roll, clock, messages = rollout([2])
    roll.hold("web-2", "web-1", 4)
    assert clock.now == pytest.approx(4)
    assert messages == ["keeping web-1 for 4s so other nodes notice web-2"]


def test_hold_fails_when_the_new_asg_turns_unhealthy():
    roll, clock, _ = rollout([2, 2, 1])
    with pytest.raises(RollFailed, match="web-2 became unhealthy before web-1 was removed"):
        roll.hold("web-2", "web-1", 100)
    assert clock.now < 100


def test_no_timeout_means_no_hold():
    roll, clock, messages = rollout([0])
    roll.hold("web-2", "web-1", 0)
    assert clock.sleeps == [] and messages == []


class FakeAutoscaling:
    """Just enough of the autoscaling API for a roll; new groups get `healthy` healthy instances."""

    def __init__(self, healthy: int) -> None:
        self.healthy = healthy
        self.groups: dict[str, dict[str, Any]] = {"web-old": {"Instances": []}}
        self.calls: list[tuple[str, str]] = []

    def create_auto_scaling_group(self, AutoScalingGroupName: str, **settings: Any) -> None:
        self.calls.append(("create", AutoScalingGroupName))
        instances = [{"LifecycleState": "InService", "HealthStatus": "Healthy"}] * self.healthy
        self.groups[AutoScalingGroupName] = {"Instances": instances, **settings}

    def describe_auto_scaling_groups(self, AutoScalingGroupNames: list[str]) -> dict[str, Any]:
        return {"AutoScalingGroups": [self.groups[n] for n in AutoScalingGroupNames if n in self.groups]}

    def delete_auto_scaling_group(self, AutoScalingGroupName: str, ForceDelete: bool) -> None:
        self.calls.append(("delete", AutoScalingGroupName))
        del self.groups[AutoScalingGroupName]

    def delete_tags(self, Tags: list[dict[str, Any]]) -> None:
        self.calls.append(("untag", Tags[0]["ResourceId"]))

    def create_or_update_tags(self, Tags: list[dict[str, Any]]) -> None:
        self.calls.append(("tag " + ",".join(f"{t['Key']}={t['Value']}" for t in Tags), Tags[0]["ResourceId"]))


class FakeClients:
    region = None

    def __init__(self, autoscaling: FakeAutoscaling) -> None:
        self.autoscaling = autoscaling

    def client(self, service: str, region: str | None = None) -> Any:
        return self.autoscaling


ATTRIBUTES = {"region": "us-east-1", "min_size": 2, "max_size": 2, "desired_capacity": 2, "zones": ["us-east-1a"],
              "subnets": [], "health_check_type": "EC2", "health_check_grace": 300,
              "termination_policies": ["OldestInstance"], "launch_template_id": "lt-1",
              "launch_template_version": "2", "timeout": 30, "healthy_deadline": 60,
              "tags": {"group": "web", "infra:managed": "true"}}


def replace(healthy: int):
    autoscaling = FakeAutoscaling(healthy)
    clock = FakeClock()
    provider = AutoscalingProvider(None, FakeClients(autoscaling), sleep=clock.sleep, clock=clock)
    action = Action(address="asg.web", kind="asg", group="web", action=ActionKind.REPLACE,
                    before={**ATTRIBUTES, "name": "web-old", "launch_template_version": "1"}, after=ATTRIBUTES)
    messages: list[str] = []
    return provider, action, autoscaling, clock, messages


def test_a_roll_creates_the_new_asg_waits_then_removes_the_old_one():
    provider, action, autoscaling, clock, messages = replace(healthy=2)
    outputs = provider.apply(action, ATTRIBUTES, messages.append)
    new = outputs["name"]
    assert new.startswith("web-") and new != "web-old"
    # healthy, it is marked so before the hold: killed then, the next plan keeps it and drops the old one
    assert autoscaling.calls == [("create", new), ("tag infra:roll=holding", new), ("untag", new),
                                 ("delete", "web-old")]
    assert clock.now == pytest.approx(30)  # the old one stayed for the group's timeout
    pending = [t for t in autoscaling.groups[new]["Tags"] if t["Key"] == "infra:roll"]
    assert pending and pending[0]["PropagateAtLaunch"] is False


def test_a_new_asg_that_never_gets_healthy_is_deleted_and_the_old_one_kept():
    provider, action, autoscaling, clock, messages = replace(healthy=1)
    with pytest.raises(ProviderError, match=r"did not become healthy within 60s \(1/2 .*rolled back, deleted "
                                            r"web-[0-9a-f]{8} and kept web-old"):
        provider.apply(action, ATTRIBUTES, messages.append)
    assert list(autoscaling.groups) == ["web-old"]
    assert clock.now == pytest.approx(60)


def test_a_first_asg_that_never_gets_healthy_is_kept_and_reported():
    provider, action, autoscaling, clock, messages = replace(healthy=0)
    create = action.model_copy(update={"action": ActionKind.CREATE, "before": None})
    with pytest.raises(ProviderError, match="is kept: see why with aws autoscaling describe-scaling-activities"):
        provider.apply(create, ATTRIBUTES, messages.append)
    assert len(autoscaling.groups) == 2


def test_a_roll_interrupted_while_it_waits_is_undone_and_keeps_the_old_asg():
    provider, action, autoscaling, clock, messages = replace(healthy=1)
    waited: list[float] = []

    def terminated_during_the_wait(seconds: float) -> None:
        waited.append(seconds)
        clock.sleep(seconds)
        provider.interrupt()  # SIGTERM reached infra while the new ASG was not healthy yet

    provider.sleep = terminated_during_the_wait
    with pytest.raises(ProviderError, match=r"infra was terminated while waiting: rolled back, deleted "
                                            r"web-[0-9a-f]{8} and kept web-old"):
        provider.apply(action, ATTRIBUTES, messages.append)
    assert len(waited) == 1 and list(autoscaling.groups) == ["web-old"]
