"""`infra sandbox start`, then builds against it, as the docs tell a newcomer to do, with no AWS credentials."""

import re
import shutil

import boto3
import pytest

from infra.providers import packer
from tests.cli_helpers import run_infra


def test_packer_run_builds_in_the_sandbox_started_by_infra(ops_repo, capsys, monkeypatch):
    packer.binary()  # fails (does not skip) when packer is missing
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(ops_repo / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(ops_repo / "no-config"))
    nodes = (ops_repo / "nodes.json").read_text()
    (ops_repo / "nodes.json").write_text(nodes.replace('"12_04-www": {', '"12_04-www": {"source_ami": "@12_04-bee",'))

    started = run_infra(capsys, "sandbox", "start")
    assert started.code == 0, started.err
    try:
        endpoint = re.search(r"export AWS_ENDPOINT_URL=(\S+)", started.out).group(1)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        assert run_infra(capsys, "sandbox", "status").code == 0
        result = run_infra(capsys, "packer:run")
        assert result.code == 0, result.err
        assert "ami.12_04-www: ==> amazon-ebs: Creating AMI 12_04-www-" in result.out
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:infra:managed", "Values": ["true"]}])
        groups = sorted(t["Value"] for i in images["Images"] for t in i["Tags"] if t["Key"] == "group")
        assert groups == ["12_04-bee", "12_04-www"]
        assert run_infra(capsys, "plan", "--detailed-exitcode", "12_04-www").code == 0
    finally:
        assert run_infra(capsys, "sandbox", "stop").code == 0
    assert run_infra(capsys, "sandbox", "status").code == 1


def test_a_sandbox_whose_record_went_with_infra_dir_is_still_found_and_stopped(ops_repo, capsys):
    assert run_infra(capsys, "sandbox", "start").code == 0
    shutil.rmtree(ops_repo / ".infra")  # e.g. to start over from a lost state
    status = run_infra(capsys, "sandbox", "status")
    assert status.code == 0 and "The sandbox runs at http://127.0.0.1:" in status.out
    stopped = run_infra(capsys, "sandbox", "stop")
    assert stopped.code == 0 and "Stopped the sandbox." in stopped.out
    assert run_infra(capsys, "sandbox", "status").code == 1


@pytest.fixture(autouse=True)
def _no_stray_sandbox(ops_repo, capsys):
    yield
    run_infra(capsys, "sandbox", "stop")
