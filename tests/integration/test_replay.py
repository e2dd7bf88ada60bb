"""The benchmark's replay (benchmarks/replay.py): moto's answers recorded, then served from memory,
each to the same request (action, region, parameters, pages), and a request never recorded refused
and counted, so a figure measured against the replay cannot quietly include a wrong answer."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from replay import Recorder, Replay  # noqa: E402

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def client(service: str, endpoint: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=NO_RETRIES)


def test_recorded_answers_are_served_from_memory_and_an_unrecorded_request_is_refused(aws, moto_server):
    ec2 = client("ec2", aws)
    made = [ec2.create_launch_template(LaunchTemplateName=f"replayed-{n}", LaunchTemplateData={"ImageId": "ami-x"})
            ["LaunchTemplate"]["LaunchTemplateId"] for n in range(3)]
    recorder = Recorder(moto_server.port)
    try:
        pages = list(client("ec2", recorder.endpoint_url).get_paginator("describe_launch_templates").paginate(
            LaunchTemplateIds=made, PaginationConfig={"PageSize": 2}))
        one = client("ec2", recorder.endpoint_url).describe_launch_templates(LaunchTemplateIds=made[:1])
    finally:
        recorder.close()
    assert recorder.reset()["DescribeLaunchTemplates"] == 3  # two pages and one more

    replay = Replay(recorder.answers)
    try:
        ec2.delete_launch_template(LaunchTemplateId=made[0])  # moto changes; the replay does not
        again = list(client("ec2", replay.endpoint_url).get_paginator("describe_launch_templates").paginate(
            LaunchTemplateIds=made, PaginationConfig={"PageSize": 2}))
        assert [p["LaunchTemplates"] for p in again] == [p["LaunchTemplates"] for p in pages]
        assert client("ec2", replay.endpoint_url).describe_launch_templates(
            LaunchTemplateIds=made[:1])["LaunchTemplates"] == one["LaunchTemplates"]
        assert replay.reset()["DescribeLaunchTemplates"] == 3 and not replay.misses

        with pytest.raises(ClientError, match="NotRecorded"):  # other parameters
            client("ec2", replay.endpoint_url).describe_launch_templates(LaunchTemplateIds=made[1:2])
        with pytest.raises(ClientError, match="NotRecorded"):  # the same request, signed for another region
            client("ec2", replay.endpoint_url, "us-west-2").describe_launch_templates(LaunchTemplateIds=made[:1])
        assert replay.misses == {"DescribeLaunchTemplates": 2}
    finally:
        replay.close()
