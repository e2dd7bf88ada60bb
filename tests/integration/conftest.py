"""Real parts for integration tests: one moto server for the session, reset before each test."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import boto3
import pytest

from infra.providers import packer
from infra.sandbox.launcher import MotoServer
from tests.support import packer_wrapper
from tests.support.aws_proxy import CountingProxy

# Source images every test may build from; the example nodes.json names the first.
SOURCE_AMIS = ["ami-1ebb2077", "ami-0a1b2c3d", "ami-0badc0de"]
# Security groups every region starts with (the example nodes.json names them).
SECURITY_GROUPS = ["bee", "external", "internal", "www"]
# The alarm and target group the `alarm` and `target_group` fixtures make.
ALARM, TARGET_GROUP = "web-5xx", "web-tg"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start(SOURCE_AMIS, security_groups=SECURITY_GROUPS)
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto server (state reset, source AMIs re-seeded), with the environment pointing at it."""
    request = urllib.request.Request(f"{moto_server.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return moto_server.endpoint_url


@pytest.fixture
def ec2(aws: str):
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)


@pytest.fixture
def ops_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ops repository as the working directory, holding the example nodes.json."""
    example = Path(__file__).resolve().parents[2] / "nodes.json"
    (tmp_path / "nodes.json").write_text(example.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def control(aws, ops_repo: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The packer wrapper first on PATH; returns its control folder (see tests/support/packer_wrapper.py)."""
    real = packer.binary()  # fails (does not skip) when packer is missing
    where = tmp_path_factory.mktemp("packer")
    for name, value in packer_wrapper.install(where / "bin", where / "control").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INFRA_TEST_REAL_PACKER", real)
    return where / "control"


@pytest.fixture
def proxy(aws, moto_server, monkeypatch):
    """A proxy in front of moto that counts the requests (test_failures.py has its own, which injects faults)."""
    proxy = CountingProxy(moto_server.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
    yield proxy
    proxy.close()


@pytest.fixture
def autoscaling(aws: str):
    return boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws)


@pytest.fixture
def elbv2(aws: str):
    return boto3.client("elbv2", region_name="us-east-1", endpoint_url=aws)


@pytest.fixture
def cloudwatch(aws: str):
    return boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=aws)


@pytest.fixture
def target_group(elbv2, ec2) -> str:
    """web-tg, HTTP on port 80 in the default VPC, with a deregistration delay of 1 s; its ARN."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    arn = elbv2.create_target_group(Name=TARGET_GROUP, Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "1"}])
    return arn


@pytest.fixture
def alarm(cloudwatch) -> str:
    cloudwatch.put_metric_alarm(AlarmName=ALARM, Namespace="web", MetricName="5xx", Statistic="Sum", Period=60,
                                EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    return ALARM


def owner_of(repo: Path) -> str:
    """The project that owns what infra makes from `repo` (its infra:owner tag)."""
    from infra.config import load_config

    return load_config(repo / "nodes.json").owner
