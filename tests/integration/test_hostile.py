"""The seed's lifecycle against the hostile sandbox: AWS as it behaves on a bad day (latency,
throttling, 5xx, what was just made invisible for a while, instances pending, targets `initial`,
launches failing in one zone, AMIs pending), with the real packer. Every apply converges: exit 0,
one ASG and one launch template per group, the target group never without a healthy target
during a roll, and the next plan empty.

The knobs are AWS's behaviours at a few seconds' scale, so the module runs in about a minute; the
seed is fixed, so a failure replays (see docs/aws-behaviour.md).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from infra.sandbox.hostile import Knobs
from infra.sandbox.launcher import MotoServer
from tests.cli_helpers import run_infra
from tests.integration.conftest import ALARM, SECURITY_GROUPS, SOURCE_AMIS, TARGET_GROUP
from tests.integration.fleet_support import BEE, example, tags, write
from tests.integration.test_environments import NODES
from tests.integration.test_failures import builds, start_infra, wait_until
from tests.support.watch import Watch

WWW = "12_04-www"
KNOBS = Knobs(seed=24, latency=0.005, throttle=0.04, errors=0.01, lag=2.5, scan_lag=5.0, pending=1.0, initial=1.5,
              ami_pending=1.0, failed_launches=0.5, launch_retry=1.5)
# scan_lag: what was just made stays out of listings (by tag, paged) twice as long as describes by id
# lag behind: the plans right after each apply see it only by id (infra/providers/aws/unlisted.py).
# lag outlasts a throttled call's retry (botocore backs off up to a second or two first): with 1 s, a
# throttled RunInstances could come back after the key pair showed, and the "not yet" path went untried
# (about one run in eight). The test's own clients go through the hostile layer too: they retry as infra's do.
PATIENT = Config(retries={"mode": "standard", "max_attempts": 10})


def started_hostile(tmp_path_factory: pytest.TempPathFactory, name: str, knobs: Knobs) -> MotoServer:
    """A hostile sandbox with `knobs`, holding the seed's source AMIs and security groups."""
    return MotoServer(tmp_path_factory.mktemp(name), hostile=knobs).start(SOURCE_AMIS, security_groups=SECURITY_GROUPS)


def hostile_fixture(name: str, knobs: Knobs) -> Any:
    """A module's fixture: a hostile sandbox with `knobs` (started_hostile), stopped after the module."""
    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory):
        started = started_hostile(tmp_path_factory, name, knobs)
        yield started
        started.stop()

    return server


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory):
    server = started_hostile(tmp_path_factory, "hostile", KNOBS)
    yield server
    server.stop()


@pytest.fixture
def aws(hostile_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """This module's AWS: the hostile sandbox, reset (its own clock of what was made too)."""
    return pointed_at(hostile_server, monkeypatch)


def pointed_at(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    request = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    for name, value in (("AWS_ENDPOINT_URL", server.endpoint_url), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_POLL_DELAY_SECONDS", "1")  # packer's waiters: its default is 15 s between looks
    return server.endpoint_url


_APPLIED = [0.0]  # when the last apply (or other command that makes things) ended: time.monotonic()


def after_scan_lag(listing: Callable[[], Any]) -> Any:
    """What a listing answers once everything made is in it: the sandbox, as AWS, leaves what was made
    in the last `scan_lag` seconds out of listings (infra's plans confirm it by id meanwhile), so it
    waits for what is left of that since the last apply ended."""
    time.sleep(max(0.0, _APPLIED[0] + KNOBS.scan_lag - time.monotonic()))
    return listing()


def client(service: str, aws: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=aws, config=PATIENT)


@pytest.fixture
def ec2(aws: str):
    return client("ec2", aws)


@pytest.fixture
def elbv2(aws: str):
    return client("elbv2", aws)


@pytest.fixture
def cloudwatch(aws: str):
    return client("cloudwatch", aws)


def applied(capsys, *args: str):
    result = run_infra(capsys, *args) if args and args[0] != "apply" else \
        run_infra(capsys, "apply", "--auto-approve", *args[1:])
    assert result.code == 0, result.err + result.out
    _APPLIED[0] = time.monotonic()
    return result


def converged(capsys, aws: str, *environment: str, region: str = "us-east-1", held: str | None = None) -> None:
    """The next plan is empty (but for `held`, the address infra rollback holds back), and no group has
    two ASGs or two launch templates."""
    plan = run_infra(capsys, *environment, "plan", "--detailed-exitcode")
    if held is None:
        assert plan.code == 0, plan.out + plan.err
    else:  # nothing to apply; exit 2 as nodes.json and the fleet differ (fleet.md, infra rollback)
        assert plan.code == 2 and f"No changes to apply, but 1 held back from nodes.json: {held} " in plan.out, \
            plan.out + plan.err
    groups = after_scan_lag(client("autoscaling", aws, region).describe_auto_scaling_groups)["AutoScalingGroups"]
    templates = client("ec2", aws, region).describe_launch_templates()["LaunchTemplates"]
    for found in (groups, templates):
        per_group = Counter((tags(r).get("infra:owner"), tags(r).get("group")) for r in found)
        assert all(count == 1 for count in per_group.values()), per_group


def serving(elbv2, arn: str) -> frozenset[str]:
    found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return frozenset(d["Target"]["Id"] for d in found if d["TargetHealth"]["State"] == "healthy")


@pytest.fixture
def repo(aws, ops_repo: Path, control, elbv2, ec2, cloudwatch) -> Path:
    """The example nodes.json, built with packer, its bee group rolled gated behind web-tg."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    elbv2.create_target_group(Name=TARGET_GROUP, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")
    cloudwatch.put_metric_alarm(AlarmName=ALARM, Namespace="web", MetricName="5xx", Statistic="Sum", Period=60,
                                EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    example(ops_repo, packer=True, target_groups=[TARGET_GROUP], healthy_deadline=30,
            rollout={"canary": 1, "bake": 1, "alarms": [ALARM]})
    return ops_repo


def faults(aws: str) -> Counter[str]:
    """The requests the hostile layer saw and the faults it gave, by code, so far."""
    with urllib.request.urlopen(f"{aws}/moto-api/hostile", timeout=10) as answer:
        return Counter(json.loads(answer.read()))


def test_apply_a_gated_roll_rollback_and_instance_create_converge_on_a_bad_day(repo, aws, control, capsys, elbv2,
                                                                              tmp_path):
    before = faults(aws)
    first = applied(capsys, "apply")
    # A build whose first AWS call was throttled is started again before it made anything (packer.py).
    assert set(builds(control)) == {BEE, WWW}
    assert "waiting for" in first.out  # AWS said "not yet" at least once, and infra said what it waited for
    converged(capsys, aws)
    images = after_scan_lag(lambda: client("ec2", aws).describe_images(Owners=["self"]))["Images"]
    assert sorted(tags(image)["group"] for image in images) == [BEE, WWW]  # one AMI each, however often it retried
    arn = elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"][0]["TargetGroupArn"]

    key = tmp_path / "deploy.pem"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    client("ec2", aws).import_key_pair(KeyName="ops", PublicKeyMaterial=key.with_suffix(".pem.pub").read_bytes())
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["key_name"] = "ops"  # a new launch template version (and no new AMI: a shorter test)
    write(repo, nodes)
    with Watch(lambda: serving(elbv2, arn), every=0.1) as watch:
        rolled = applied(capsys, "apply")
    assert all(watch.seen), "web-tg had no healthy target at some moment of the roll"
    assert "canary passed; scaling to 2" in rolled.out and "0/1 healthy in web-tg; waiting" in rolled.out, rolled.out
    converged(capsys, aws)

    with Watch(lambda: serving(elbv2, arn), every=0.1) as watch:
        back = applied(capsys, "rollback", BEE, "--auto-approve")
    assert all(watch.seen), "web-tg had no healthy target at some moment of the rollback"
    assert "infra rollback: back to launch template version 1" in back.out
    converged(capsys, aws, held=f"asg.{BEE}")

    made = applied(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1")
    assert "imported key pair deploy" in made.out and "InvalidKeyPair.NotFound" in made.out  # waited for it
    converged(capsys, aws, held=f"asg.{BEE}")  # its plan while listings still leave the instance out (scan_lag)
    one_off = after_scan_lag(lambda: client("ec2", aws).describe_instances(
        Filters=[{"Name": "tag:infra:name", "Values": ["web1"]}]))
    assert len([i for r in one_off["Reservations"] for i in r["Instances"]]) == 1
    given = faults(aws) - before
    assert given["RequestLimitExceeded"] + given["Throttling"] > 0 and given["rewritten"] > 0, given  # a bad day
    # Each of these calls comes at once after what it names was made: each was answered "not yet" and
    # waited out. (A new AMI's may not be: packer looks for it after its poll delay.)
    for not_yet in ("ValidationError", "InvalidLaunchTemplateId.VersionNotFound", "InvalidKeyPair.NotFound",
                    "InvalidInstanceID.NotFound"):
        assert given[not_yet] > 0, given


@pytest.fixture
def environments(aws, ops_repo: Path, control) -> Path:
    (ops_repo / "nodes.json").write_text(json.dumps(NODES, indent=2))
    return ops_repo


def test_an_environment_promotion_converges_on_a_bad_day(environments, aws, control, capsys):
    applied(capsys, "--env", "staging", "apply", "--auto-approve")
    built = builds(control)
    assert set(built) == {"web"}  # started again when packer's first AWS call was throttled (packer.py)
    promoted = applied(capsys, "--env", "production", "apply", "--auto-approve")
    assert builds(control) == built  # production copied staging's AMI, and built nothing
    assert "promoted" in promoted.out, promoted.out
    converged(capsys, aws, "--env", "staging", region="us-west-2")
    converged(capsys, aws, "--env", "production")
    for region in ("us-west-2", "us-east-1"):  # one AMI in each environment: built once, copied once
        images = after_scan_lag(lambda r=region: client("ec2", aws, r).describe_images(Owners=["self"]))["Images"]
        assert len(images) == 1 and images[0]["State"] == "available", images


def test_sandbox_start_hostile_says_its_knobs_and_seed_and_throttles_as_aws_does(ops_repo, capsys):
    started = run_infra(capsys, "sandbox", "start", "--hostile-seed", "5", "--knob", "throttle=1", "--knob",
                        "latency=0")
    assert started.code == 0, started.err
    try:
        assert "Hostile: seed=5, latency=0.0, throttle=1.0," in started.out
        assert "(replay with --hostile-seed 5)" in started.out
        endpoint = re.search(r"export AWS_ENDPOINT_URL=(\S+)", started.out).group(1)
        status = run_infra(capsys, "sandbox", "status")
        assert status.code == 0 and "Hostile: seed=5" in status.out
        impatient = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=endpoint,
                                 aws_access_key_id="testing", aws_secret_access_key="testing",
                                 config=Config(retries={"mode": "standard", "max_attempts": 1}))
        with pytest.raises(botocore.exceptions.ClientError, match=r"\(Throttling\).*Rate exceeded"):
            impatient.describe_auto_scaling_groups()
        assert re.search(r"So far: (\d+) requests; faults given: Throttling \1; 0 answers shown as AWS would",
                         run_infra(capsys, "sandbox", "status").out)  # every one throttled
    finally:
        assert run_infra(capsys, "sandbox", "stop").code == 0


@pytest.fixture(scope="module")
def no_capacity(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox where every launch in an `a` zone fails, for longer than any roll waits."""
    knobs = Knobs(seed=3, latency=0, throttle=0, errors=0, lag=0.5, scan_lag=0, pending=0.5, initial=0.5, ami_pending=0,
                  failed_launches=1.0, launch_retry=600)
    server = started_hostile(tmp_path_factory, "no-capacity", knobs)
    yield server
    server.stop()


def test_a_roll_into_a_zone_without_capacity_is_rolled_back_saying_why(no_capacity, ops_repo, capsys, monkeypatch):
    endpoint = pointed_at(no_capacity, monkeypatch)
    example(ops_repo, zones=["us-east-1b"], healthy_deadline=4)
    applied(capsys, "apply")
    [old] = client("autoscaling", endpoint).describe_auto_scaling_groups()["AutoScalingGroups"]

    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    nodes[BEE]["autoscale"]["zones"] = ["us-east-1a"]
    write(ops_repo, nodes)
    failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1
    [line] = [line for line in failed.err.splitlines() if line.startswith(f"asg.{BEE}:")]
    assert re.search(rf"did not become healthy within 4s \(0/2 instances InService and Healthy\): 2 instance\(s\) "
                     rf"not launched yet \(a launch failed: We currently do not have sufficient capacity in the "
                     rf"Availability Zone you requested \(us-east-1a\)\..*\): rolled "
                     rf"back, deleted {BEE}-[0-9a-f]{{8}} and kept {old['AutoScalingGroupName']}", line), line
    [kept] = client("autoscaling", endpoint).describe_auto_scaling_groups()["AutoScalingGroups"]
    assert kept["AutoScalingGroupName"] == old["AutoScalingGroupName"]


@pytest.fixture(scope="module")
def slow_to_show(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox that shows what was made only after ten minutes."""
    knobs = Knobs(seed=5, latency=0, throttle=0, errors=0, lag=600, scan_lag=0, pending=0, initial=0, ami_pending=0,
                  failed_launches=0)
    server = started_hostile(tmp_path_factory, "slow", knobs)
    yield server
    server.stop()


def test_sigterm_ends_a_wait_for_aws_to_catch_up_and_the_apply_records_what_it_made(slow_to_show, ops_repo, capsys,
                                                                                    monkeypatch, tmp_path):
    pointed_at(slow_to_show, monkeypatch)
    example(ops_repo)
    apply = start_infra(ops_repo, tmp_path, "apply", "apply", "--auto-approve")
    out = tmp_path / "apply.out"
    wait_until("the wait for the launch template", lambda: "to reach Auto Scaling" in out.read_text()
               or apply.poll() is not None, timeout=60)
    apply.send_signal(signal.SIGTERM)
    assert apply.wait(timeout=30) == 143  # not the ten minutes, nor the 120 s it would wait
    err = (tmp_path / "apply.err").read_text()
    assert (f"asg.{BEE}: failed" in err and "infra was stopped (Ctrl-C or SIGTERM) while waiting for launch template "
            "lt-" in err and "to reach Auto Scaling (creating 12_04-bee-" in err), err
    assert "Traceback" not in err
    assert "launch_template.12_04-bee" in run_infra(capsys, "state", "list").out  # recorded: made once
