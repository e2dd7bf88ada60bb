"""When the old ASG has drained from its target groups: AWS deregisters its instances some time after
the detach, and until then reports them as they were (healthy, still sent requests). No server: the
clients are stand-ins that answer as ELBv2 and Auto Scaling do."""

from __future__ import annotations

from infra.providers.aws.blue_green import AsgFleet

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067"


class Clients:
    """DescribeAutoScalingGroups of web-a (two instances), DescribeTargetHealth from `states`."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states

    def client(self, service: str, region: str) -> Clients:
        return self

    def describe_auto_scaling_groups(self, AutoScalingGroupNames: list[str]) -> dict:
        return {"AutoScalingGroups": [{"AutoScalingGroupName": "web-a",
                                       "Instances": [{"InstanceId": i} for i in self.states]}]}

    def describe_target_health(self, TargetGroupArn: str, Targets: list[dict]) -> dict:
        return {"TargetHealthDescriptions": [
            {"Target": {"Id": t["Id"]}, "TargetHealth": {"State": self.states[t["Id"]]}} for t in Targets]}


def draining(states: dict[str, str]) -> list[str]:
    fleet = AsgFleet.__new__(AsgFleet)
    fleet.clients = Clients(states)
    fleet.client, fleet.region, fleet.old, fleet.old_arns = fleet.clients, "us-east-1", "web-a", [ARN]
    return fleet.draining()


def test_instances_not_yet_deregistered_still_drain():
    assert draining({"i-1": "healthy", "i-2": "draining"}) == ["2 in web-tg"]


def test_deregistered_instances_have_drained():
    assert draining({"i-1": "unused", "i-2": "unused"}) == []
