"""Each region has its own client, and `--region` is every group's region in the config, so what a
plan finds is labelled by the region it was found in. No server: making a client calls nothing."""

import json

from infra.aws.session import AwsClients
from infra.config import parse_config
from infra.providers.aws.common import in_each_region, regions_of
from infra.reconciler.graph import desired_graph
from infra.reconciler.resources import Resource

NODES = {"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"},
         "east": {"region": "us-east-1"}, "west": {"region": "eu-west-1"}}


def test_a_client_asked_for_a_region_is_of_that_region_even_with_a_default_one():
    clients = AwsClients(region="us-west-2", endpoint_url="https://ec2.example.com")
    assert clients.client("ec2", "eu-west-1").meta.region_name == "eu-west-1"
    assert clients.client("ec2").meta.region_name == "us-west-2"  # no region asked: the default
    assert clients.client("ec2", "eu-west-1") is clients.client("ec2", "eu-west-1")  # one per region
    assert AwsClients().client("ec2").meta.region_name == "us-east-1"


def test_region_option_moves_every_group_in_the_config_not_in_the_clients(tmp_path):
    config = parse_config(json.dumps(NODES)).in_region("us-west-2")
    assert {g.region for g in config.groups.values()} == {"us-west-2"}
    regions = {r.attributes["region"] for r in desired_graph(config, tmp_path) if "region" in r.attributes}
    assert regions == {"us-west-2"}  # what the plan asks for, and compares, is where it looks


def test_the_regions_scanned_are_those_asked_about_else_the_configured_ones():
    clients = AwsClients()
    asked = [Resource(kind="ami", group="a", attributes={"region": "eu-west-1"}),
             Resource(kind="ami", group="b", attributes={"region": "us-east-1"})]
    assert regions_of(asked, clients, ["ap-south-1"]) == ["eu-west-1", "us-east-1"]
    assert regions_of([], clients, ["ap-south-1", None]) == ["ap-south-1"]
    assert regions_of([], AwsClients(region="us-west-2")) == ["us-west-2"]


def test_every_region_is_scanned_at_once_and_answers_in_region_order():
    import threading

    arrived, release = [], threading.Barrier(3, timeout=10)

    def scan(region: str) -> str:
        arrived.append(region)
        release.wait()  # only returns once all three scans run at the same time
        return region.upper()

    assert in_each_region(["a", "b", "c"], scan) == ["A", "B", "C"]
    assert sorted(arrived) == ["a", "b", "c"]
