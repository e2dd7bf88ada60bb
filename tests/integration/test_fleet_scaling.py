"""Scaling policies and scheduled actions on moto: made, changed, drift, removed, carried by a roll.

moto keeps what PutScalingPolicy, PutScheduledUpdateGroupAction and PutMetricAlarm are given and
answers DescribePolicies, DescribeScheduledActions and DescribeAlarms with it; it acts on none of
them (no alarm sets a policy off, no schedule runs), so a policy's work is played here by setting
the desired capacity by hand, as a policy would. Its PutScalingPolicy answer has no PolicyARN
(infra then asks DescribePolicies), and it keeps an ASG's policies after the ASG is deleted
(infra looks only at live ASGs' policies).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from pathlib import Path

import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import ALARM, TARGET_GROUP
from tests.integration.fleet_support import BEE, applied, asgs, example, no_changes, tags, write
from tests.support.watch import Watch

SCALING = {
    "target_tracking": {"cpu": {"metric": "cpu", "target": 60, "warmup": 120}},
    "step": {"burst": {"metric": "cpu", "above": 85, "evaluation_periods": 2,
                       "steps": [{"lower": 0, "upper": 10, "change": 1}, {"lower": 10, "change": 2}]}},
    "scheduled": {"night": {"cron": "0 22 * * *", "time_zone": "Europe/Paris", "min": 1, "max": 2, "desired": 1},
                  "morning": {"cron": "0 7 * * MON-FRI", "min": 2}},
}


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    scaled(ops_repo)
    return ops_repo


def scaled(repo: Path, scaling: dict | None = None, **autoscale) -> dict:
    """The example's bee group (2 to 4 nodes) with `scaling` (SCALING when not given)."""
    return example(repo, node_max=4, scaling=copy.deepcopy(SCALING if scaling is None else scaling), **autoscale)


def edit(repo: Path, change) -> None:
    nodes = json.loads((repo / "nodes.json").read_text())
    change(nodes[BEE]["autoscale"])
    write(repo, nodes)


def live(autoscaling) -> str:
    [group] = asgs(autoscaling, BEE)
    return group["AutoScalingGroupName"]


def policies(autoscaling, asg: str) -> dict[str, dict]:
    found = autoscaling.describe_policies(AutoScalingGroupName=asg)["ScalingPolicies"]
    return {p["PolicyName"]: p for p in found if p["AutoScalingGroupName"] == asg}


def scheduled(autoscaling, asg: str) -> dict[str, dict]:
    found = autoscaling.describe_scheduled_actions(AutoScalingGroupName=asg)["ScheduledUpdateGroupActions"]
    return {a["ScheduledActionName"]: a for a in found if a["AutoScalingGroupName"] == asg}


def step_alarms(cloudwatch, asg: str) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{asg}-")["MetricAlarms"]}


def test_apply_puts_the_policies_the_alarm_and_the_scheduled_actions_on_the_asg(repo, capsys, autoscaling,
                                                                                cloudwatch):
    planned = run_infra(capsys, "plan")
    assert "scaling" in planned.out and "target_tracking" in planned.out, planned.out
    done = applied(capsys)
    asg = live(autoscaling)
    assert f"{asg}: scaling: put target tracking cpu, step burst, scheduled night, scheduled morning" in done.out
    found = policies(autoscaling, asg)
    assert sorted(found) == [f"{asg}-burst", f"{asg}-cpu"]
    cpu = found[f"{asg}-cpu"]
    assert cpu["PolicyType"] == "TargetTrackingScaling" and cpu["EstimatedInstanceWarmup"] == 120
    assert cpu["TargetTrackingConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ASGAverageCPUUtilization"}
    assert cpu["TargetTrackingConfiguration"]["TargetValue"] == 60
    burst = found[f"{asg}-burst"]
    assert burst["AdjustmentType"] == "ChangeInCapacity" and [s["ScalingAdjustment"] for s in
                                                              burst["StepAdjustments"]] == [1, 2]
    [alarm_of_burst] = step_alarms(cloudwatch, asg).values()
    assert alarm_of_burst["AlarmName"] == f"{asg}-burst" and alarm_of_burst["AlarmActions"] == [burst["PolicyARN"]]
    assert (alarm_of_burst["MetricName"], alarm_of_burst["Threshold"], alarm_of_burst["EvaluationPeriods"],
            alarm_of_burst["ComparisonOperator"]) == ("CPUUtilization", 85, 2, "GreaterThanOrEqualToThreshold")
    assert alarm_of_burst["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": asg}]
    alarm_tags = {t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(
        ResourceARN=alarm_of_burst["AlarmArn"])["Tags"]}
    assert alarm_tags["group"] == BEE and alarm_tags["infra:owner"] == tags(asgs(autoscaling, BEE)[0])["infra:owner"]
    night = scheduled(autoscaling, asg)[f"{asg}-night"]
    assert (night["Recurrence"], night["TimeZone"], night["MinSize"], night["MaxSize"], night["DesiredCapacity"]) == (
        "0 22 * * *", "Europe/Paris", 1, 2, 1)
    assert sorted(scheduled(autoscaling, asg)) == [f"{asg}-morning", f"{asg}-night"]
    assert tags(asgs(autoscaling, BEE)[0])["infra:scaling"] == "true"
    no_changes(capsys)


def test_a_change_in_nodes_json_changes_the_policies_in_place(repo, capsys, autoscaling, cloudwatch):
    applied(capsys)
    asg = live(autoscaling)

    def change(scale: dict) -> None:
        scale["scaling"]["target_tracking"]["cpu"]["target"] = 70
        scale["scaling"]["step"]["burst"]["above"] = 90
        scale["scaling"]["scheduled"]["night"]["cron"] = "30 23 * * *"
    edit(repo, change)
    planned = run_infra(capsys, "plan")
    for line in (f"~ asg.{BEE}", "scaling.target_tracking.cpu.target: 60 -> 70", "scaling.step.burst.above: 85 -> 90",
                 "scaling.scheduled.night.cron: \"0 22 * * *\" -> \"30 23 * * *\""):
        assert line in planned.out, planned.out
    assert "+/-" not in planned.out
    done = applied(capsys)
    assert f"{asg}: scaling: put target tracking cpu, step burst, scheduled night" in done.out, done.out
    assert live(autoscaling) == asg
    assert policies(autoscaling, asg)[f"{asg}-cpu"]["TargetTrackingConfiguration"]["TargetValue"] == 70
    assert step_alarms(cloudwatch, asg)[f"{asg}-burst"]["Threshold"] == 90
    assert scheduled(autoscaling, asg)[f"{asg}-night"]["Recurrence"] == "30 23 * * *"
    no_changes(capsys)


def test_hand_made_changes_are_drift_and_apply_puts_them_back(repo, capsys, autoscaling, cloudwatch):
    applied(capsys)
    asg = live(autoscaling)
    autoscaling.put_scaling_policy(  # the target edited in the console
        AutoScalingGroupName=asg, PolicyName=f"{asg}-cpu", PolicyType="TargetTrackingScaling",
        EstimatedInstanceWarmup=120, TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": 40})
    autoscaling.delete_scheduled_action(AutoScalingGroupName=asg, ScheduledActionName=f"{asg}-morning")
    autoscaling.put_scaling_policy(AutoScalingGroupName=asg, PolicyName="by-hand", PolicyType="TargetTrackingScaling",
                                   TargetTrackingConfiguration={"PredefinedMetricSpecification": {
                                       "PredefinedMetricType": "ASGAverageNetworkIn"}, "TargetValue": 1000})
    alarm_of_burst = step_alarms(cloudwatch, asg)[f"{asg}-burst"]
    cloudwatch.put_metric_alarm(**{k: alarm_of_burst[k] for k in (
        "AlarmName", "AlarmActions", "MetricName", "Namespace", "Statistic", "Dimensions", "Period",
        "EvaluationPeriods", "ComparisonOperator")}, Threshold=99)

    drift = run_infra(capsys, "drift")
    assert drift.code == 2, drift.out
    for said in (f"asg.{BEE}", "scaling.target_tracking.cpu.target: recorded 60, actual 40",
                 "scaling.step.burst.above: recorded 85, actual 99", "scaling.scheduled.morning",
                 "scaling.target_tracking.by-hand (made outside infra)"):
        assert said in drift.out, drift.out
    done = applied(capsys)
    assert "deleted target tracking by-hand (made outside infra)" in done.out, done.out
    assert sorted(policies(autoscaling, asg)) == [f"{asg}-burst", f"{asg}-cpu"]
    assert policies(autoscaling, asg)[f"{asg}-cpu"]["TargetTrackingConfiguration"]["TargetValue"] == 60
    assert step_alarms(cloudwatch, asg)[f"{asg}-burst"]["Threshold"] == 85
    assert f"{asg}-morning" in scheduled(autoscaling, asg)
    assert run_infra(capsys, "drift").code == 0


def test_scaling_left_suspended_is_drift_and_apply_resumes_it(repo, capsys, autoscaling):
    applied(capsys)
    asg = live(autoscaling)
    autoscaling.suspend_processes(AutoScalingGroupName=asg, ScalingProcesses=["AlarmNotification"])  # a roll killed
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "scaling.suspended: recorded false, actual true" in drift.out, drift.out
    done = applied(capsys)
    assert f"{asg}: its scaling acts again (it was suspended)" in done.out
    assert processes(autoscaling, asg) == set()
    no_changes(capsys)


def test_what_the_policies_do_to_the_size_is_no_drift_and_an_update_leaves_it(repo, capsys, autoscaling):
    scaled(repo, {"target_tracking": SCALING["target_tracking"],
                  "scheduled": {"night": {"cron": "0 22 * * *", "min": 1}}})  # nothing sets max_size
    applied(capsys)
    asg = live(autoscaling)
    autoscaling.set_desired_capacity(AutoScalingGroupName=asg, DesiredCapacity=4)  # as target tracking would
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=asg, MinSize=1)  # as the night's schedule would
    assert run_infra(capsys, "drift").code == 0
    no_changes(capsys)
    edit(repo, lambda scale: scale.update(health_check_grace=200))  # another change: the sizes stay
    applied(capsys)
    [group] = asgs(autoscaling, BEE)
    assert (group["MinSize"], group["DesiredCapacity"], group["HealthCheckGracePeriod"]) == (1, 4, 200)
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=asg, MaxSize=3)  # no schedule sets max: drift
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "max_size: recorded 4, actual 3" in drift.out, drift.out
    edit(repo, lambda scale: scale.update(node_min=3, node_max=5))  # nodes.json's own change is made
    applied(capsys)
    [group] = asgs(autoscaling, BEE)  # MaxSize 3 took the desired capacity down to 3, where it stays
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (3, 5, 3)


def test_removed_policies_go_and_without_scaling_infra_lets_go_of_the_asg(repo, capsys, autoscaling, cloudwatch):
    applied(capsys)
    asg = live(autoscaling)
    edit(repo, lambda scale: (scale["scaling"]["step"].clear(), scale["scaling"]["scheduled"].pop("night")))
    done = applied(capsys)
    assert f"{asg}: scaling: deleted step burst, scheduled night" in done.out, done.out
    assert sorted(policies(autoscaling, asg)) == [f"{asg}-cpu"] and step_alarms(cloudwatch, asg) == {}
    assert sorted(scheduled(autoscaling, asg)) == [f"{asg}-morning"]
    no_changes(capsys)

    edit(repo, lambda scale: scale.pop("scaling"))
    planned = run_infra(capsys, "plan")
    assert f"~ asg.{BEE}" in planned.out and "scaling" in planned.out, planned.out
    applied(capsys)
    assert policies(autoscaling, asg) == {} and scheduled(autoscaling, asg) == {}
    assert "infra:scaling" not in tags(asgs(autoscaling, BEE)[0])
    autoscaling.put_scaling_policy(AutoScalingGroupName=asg, PolicyName="theirs", PolicyType="TargetTrackingScaling",
                                   TargetTrackingConfiguration={"PredefinedMetricSpecification": {
                                       "PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": 50})
    no_changes(capsys)  # without autoscale.scaling, the ASG's policies are not infra's business
    assert run_infra(capsys, "drift").code == 0


def test_a_removed_group_takes_its_step_alarms_with_its_asg(repo, capsys, autoscaling, cloudwatch):
    applied(capsys)
    asg = live(autoscaling)
    nodes = json.loads((repo / "nodes.json").read_text())
    del nodes[BEE]
    write(repo, nodes)
    applied(capsys)
    assert asgs(autoscaling, BEE) == [] and step_alarms(cloudwatch, asg) == {}


def processes(autoscaling, asg: str) -> set[str]:
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg])["AutoScalingGroups"]
    return {p["ProcessName"] for p in group.get("SuspendedProcesses", [])}


def moment(autoscaling) -> dict[str, tuple]:
    """Each ASG of the group: its instance count, its policies and its suspended processes. The
    policies are read first: infra suspends a new ASG's scaling before it puts its policies, so an
    ASG read after them shows what held then or later (read the other way round, a moment could pair
    processes from before the suspension with policies from after it)."""
    put = {name: frozenset(policies(autoscaling, name))
           for name in (group["AutoScalingGroupName"] for group in asgs(autoscaling, BEE))}
    return {name: (len(group["Instances"]), put.get(name, frozenset()),
                   frozenset(p["ProcessName"] for p in group.get("SuspendedProcesses", [])))
            for group in asgs(autoscaling, BEE) for name in [group["AutoScalingGroupName"]]}


@pytest.fixture
def gated_repo(aws, ops_repo: Path, target_group, alarm) -> Path:  # noqa: F811
    scaled(ops_repo, target_groups=[TARGET_GROUP], healthy_deadline=5, timeout=2,
           rollout={"canary": 1, "bake": 1, "alarms": [ALARM]})
    return ops_repo


def test_a_roll_puts_the_policies_on_the_new_asg_before_the_old_one_goes_and_keeps_the_size_they_set(
        gated_repo, capsys, autoscaling, cloudwatch):
    applied(capsys)
    old = live(autoscaling)
    autoscaling.set_desired_capacity(AutoScalingGroupName=old, DesiredCapacity=3)  # target tracking grew it
    nodes = json.loads((gated_repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    write(gated_repo, nodes)

    planned = run_infra(capsys, "plan")
    assert ("roll: canary 1 of 3 (the old ASG's size now: its scaling sets it), bake 1 s watching web-5xx; then 3"
            in planned.out
            and "its scaling policies act on the new ASG once it takes over" in planned.out), planned.out
    with Watch(lambda: moment(autoscaling)) as watch:
        done = applied(capsys)
    new = live(autoscaling)
    assert new != old
    assert f"{old} runs with desired_capacity 3 now (its scaling set it, not nodes.json)" in done.out, done.out
    assert f"{new}: its scaling is suspended until it takes over from {old}" in done.out
    assert f"{new}'s scaling acts from now on; {old}'s is suspended" in done.out
    both = [m for m in watch.seen if old in m and new in m]
    assert both, "the two ASGs were never seen side by side"
    wanted = frozenset({f"{new}-cpu", f"{new}-burst"})
    first = next(n for n, m in enumerate(both) if m[new][1] == wanted)  # put right after the ASG was made
    assert all(m[new][1] == wanted for m in both[first:]), "the new ASG lost its policies while the old one was there"
    canary = [m for m in both[first:] if m[new][0] == 1]
    assert canary and all(m[new][2] >= {"AlarmNotification", "ScheduledActions"} for m in canary)
    assert any(m[old][2] >= {"AlarmNotification", "ScheduledActions"} for m in both)  # out of traffic, held still
    assert sorted(policies(autoscaling, new)) == sorted(wanted) and processes(autoscaling, new) == set()
    assert sorted(scheduled(autoscaling, new)) == [f"{new}-morning", f"{new}-night"]
    assert asgs(autoscaling, BEE)[0]["DesiredCapacity"] == 3
    assert sorted(step_alarms(cloudwatch, new)) == [f"{new}-burst"] and step_alarms(cloudwatch, old) == {}
    no_changes(capsys)


def test_a_roll_undone_after_the_hand_over_gives_the_old_asg_its_scaling_back(gated_repo, capsys, autoscaling,
                                                                              cloudwatch):
    applied(capsys)
    old = live(autoscaling)
    autoscaling.set_desired_capacity(AutoScalingGroupName=old, DesiredCapacity=3)  # its scaling grew it
    nodes = json.loads((gated_repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    nodes[BEE]["autoscale"]["timeout"] = 20
    write(gated_repo, nodes)

    def fire_in_the_hold() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = [g for g in asgs(autoscaling, BEE) if tags(g).get("infra:roll") == "holding"]
            if held and processes(autoscaling, old):
                cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx in the hold")
                return
            time.sleep(0.05)

    saboteur = threading.Thread(target=fire_in_the_hold, daemon=True)
    saboteur.start()
    failed = run_infra(capsys, "apply", "--auto-approve")
    saboteur.join(timeout=60)
    # after the hand-over: the old ASG is detached (the drain) or kept (the hold)
    assert failed.code == 1 and re.search(r"is in ALARM during the (drain|hold): rolled back", failed.err), \
        failed.err + failed.out
    assert f"rolling back: {old}'s scaling acts again" in failed.out
    assert f"kept {old} (3 instance(s), attached to {TARGET_GROUP})" in failed.err  # as it runs, not as recorded
    assert live(autoscaling) == old and processes(autoscaling, old) == set()
    assert sorted(policies(autoscaling, old)) == [f"{old}-burst", f"{old}-cpu"]
    assert sorted(step_alarms(cloudwatch, old)) == [f"{old}-burst"]  # the new one's alarm went with it


def test_requests_per_target_names_the_load_balancer_and_target_group(aws, ops_repo, capsys, autoscaling, elbv2,  # noqa: F811
                                                                     ec2, target_group):  # noqa: F811
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    balancer = elbv2.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}])
    scaled(ops_repo, {"target_tracking": {"requests": {"metric": "requests_per_target", "target": 500}}},
           target_groups=[TARGET_GROUP])
    applied(capsys)
    asg = live(autoscaling)
    spec = policies(autoscaling, asg)[f"{asg}-requests"]["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]
    assert spec["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert spec["ResourceLabel"] == (f"{balancer.split(':loadbalancer/')[1]}/targetgroup/{TARGET_GROUP}/"
                                     f"{target_group.rsplit('/', 1)[1]}")
    no_changes(capsys)


def test_requests_per_target_behind_no_load_balancer_is_one_line(aws, ops_repo, capsys, target_group):  # noqa: F811
    scaled(ops_repo, {"target_tracking": {"requests": {"metric": "requests_per_target", "target": 500}}},
           target_groups=[TARGET_GROUP])
    failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1 and "target group web-tg is behind no load balancer in us-east-1" in failed.err
    assert "Traceback" not in failed.err


def fleet_of_three(repo: Path, scaling: dict | None) -> None:
    """Three groups of one node each, with `scaling` (none: no autoscale.scaling)."""
    base = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
            "packer": False, "autoscale": {"node_min": 1, "node_max": 2, "timeout": 1, "healthy_deadline": 30,
                                           **({"scaling": scaling} if scaling is not None else {})}}
    (repo / "nodes.json").write_text(json.dumps({"__base__": base, **{f"g{n}": {} for n in range(3)}}))


@pytest.mark.parametrize("scaling, asked", [(SCALING, (1, 1, 1)), (None, (0, 0, 0))])
def test_a_plan_reads_every_groups_scaling_in_one_describe_of_each_kind_and_without_any_nothing(
        proxy, ops_repo, capsys, scaling, asked):  # noqa: F811
    fleet_of_three(ops_repo, scaling)
    applied(capsys)
    proxy.reset()
    no_changes(capsys)
    counts = proxy.reset()
    assert (counts["DescribePolicies"], counts["DescribeScheduledActions"], counts["DescribeAlarms"]) == asked, counts


def test_a_policy_aws_refuses_in_a_roll_deletes_the_new_asg_and_keeps_the_old_one(aws, ops_repo, capsys,
                                                                                   autoscaling, target_group):  # noqa: F811
    scaled(ops_repo, {"target_tracking": SCALING["target_tracking"]}, target_groups=[TARGET_GROUP])
    applied(capsys)
    old = live(autoscaling)
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    nodes[BEE]["autoscale"]["scaling"]["target_tracking"]["requests"] = {"metric": "requests_per_target",
                                                                         "target": 500}
    write(ops_repo, nodes)
    failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1 and "target group web-tg is behind no load balancer" in failed.err, failed.err
    assert f"kept {old}; nothing else changed" in failed.err and "Traceback" not in failed.err
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [old]
    assert processes(autoscaling, old) == set()


def test_an_empty_scaling_block_leaves_a_rolled_asg_unsuspended(aws, ops_repo, capsys, autoscaling):
    """`"scaling": {}` owns no policy: a roll has nothing to hold back on the new ASG, and must not
    leave its processes suspended (nothing would resume them)."""
    scaled(ops_repo, scaling={})
    applied(capsys)
    old = live(autoscaling)
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    write(ops_repo, nodes)
    applied(capsys)
    new = live(autoscaling)
    assert new != old and processes(autoscaling, new) == set()
    no_changes(capsys)
