"""A region's zones and security group ids are asked of AWS once a run, whatever the number of
groups and threads that want them; a name not found is asked again. On stub clients."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest

from infra.errors import ProviderError
from infra.providers.aws.common import available_zones, security_group_ids
from infra.providers.aws.region_facts import region_facts


class StubEc2:
    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = groups  # name -> ids (several: one per VPC)
        self.calls: list[tuple[str, Any]] = []

    def describe_availability_zones(self, Filters: list[dict]) -> dict:
        self.calls.append(("zones", None))
        return {"AvailabilityZones": [{"ZoneName": "us-east-1b", "ZoneType": "availability-zone"},
                                      {"ZoneName": "us-east-1-bos-1a", "ZoneType": "local-zone"},
                                      {"ZoneName": "us-east-1a"}]}

    def get_paginator(self, operation: str) -> Any:
        assert operation == "describe_security_groups"
        stub = self

        class Pages:
            def paginate(self, Filters: list[dict]) -> list[dict]:
                [names] = [f["Values"] for f in Filters if f["Name"] == "group-name"]
                stub.calls.append(("groups", tuple(names)))
                return [{"SecurityGroups": [{"GroupName": n, "GroupId": i} for n in names
                                            for i in stub.groups.get(n, [])]}]

        return Pages()


class StubClients:
    region = "us-east-1"

    def __init__(self, ec2: StubEc2) -> None:
        self.ec2 = ec2

    def client(self, service: str, region: str | None = None) -> Any:
        return self.ec2


def test_zones_are_asked_once_a_run_by_every_thread_at_once() -> None:
    ec2 = StubEc2({})
    clients: Any = StubClients(ec2)
    found: list[list[str]] = []
    threads = [threading.Thread(target=lambda: found.append(available_zones(clients, "us-east-1")))
               for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [["us-east-1a", "us-east-1b"]] * 20
    assert ec2.calls == [("zones", None)]
    available_zones(StubClients(ec2), "us-east-1")  # another run (other clients) asks again
    assert len(ec2.calls) == 2


def test_security_groups_found_are_kept_and_missing_ones_asked_again() -> None:
    ec2 = StubEc2({"web": ["sg-1"], "internal": ["sg-2"]})
    clients: Any = StubClients(ec2)
    assert security_group_ids(clients, "us-east-1", ["web", "sg-9", "internal"]) == ["sg-1", "sg-9", "sg-2"]
    assert security_group_ids(clients, "us-east-1", ["internal", "web"]) == ["sg-2", "sg-1"]
    assert ec2.calls == [("groups", ("web", "internal"))]
    with pytest.raises(ProviderError, match="security group.s. db not found in us-east-1"):
        security_group_ids(clients, "us-east-1", ["web", "db"])
    ec2.groups["db"] = ["sg-3"]  # made meanwhile: the next question finds it
    assert security_group_ids(clients, "us-east-1", ["db"]) == ["sg-3"]
    assert ec2.calls[1:] == [("groups", ("db",)), ("groups", ("db",))]


def test_a_name_in_several_vpcs_keeps_every_id() -> None:
    ec2 = StubEc2({"web": ["sg-1", "sg-7"]})
    clients: Any = StubClients(ec2)
    assert region_facts(clients).security_groups("us-east-1", ["web"]) == {"web": ["sg-1", "sg-7"]}
    assert region_facts(clients).security_groups("eu-west-1", ["web"]) == {"web": ["sg-1", "sg-7"]}
    assert [call for call, _ in ec2.calls] == ["groups", "groups"]  # one question per region


def test_a_run_s_facts_go_when_its_clients_go() -> None:
    # A process that makes run after run (a service, the test suite: thousands) must not keep each
    # run's clients, their boto3 sessions and clients, through the facts kept for them.
    clients: Any = StubClients(StubEc2({"web": ["sg-1"]}))
    assert available_zones(clients, "us-east-1") == ["us-east-1a", "us-east-1b"]
    assert security_group_ids(clients, "us-east-1", ["web"]) == ["sg-1"]
    gone = weakref.ref(clients)
    del clients
    gc.collect()
    assert gone() is None


def test_regions_observed_at_once_do_not_wait_for_each_other_s_answers() -> None:
    # us-east-1's answer comes only once eu-west-1 has been asked: with one lock for every region, the
    # second question would wait behind the first (each a round trip to AWS, one region after another).
    us_asking, eu_asked = threading.Event(), threading.Event()

    class WaitingEc2(StubEc2):
        def __init__(self, region: str) -> None:
            super().__init__({})
            self.region = region

        def describe_availability_zones(self, Filters: list[dict]) -> dict:
            if self.region == "eu-west-1":
                eu_asked.set()
            else:
                us_asking.set()
                assert eu_asked.wait(timeout=10), "eu-west-1 was not asked while us-east-1 waited for its answer"
            return super().describe_availability_zones(Filters)

    class ClientsPerRegion:
        region = "us-east-1"

        def __init__(self) -> None:
            self.ec2 = {region: WaitingEc2(region) for region in ("us-east-1", "eu-west-1")}

        def client(self, service: str, region: str | None = None) -> Any:
            return self.ec2[region or self.region]

    clients: Any = ClientsPerRegion()
    found: dict[str, list[str]] = {}
    threads = [threading.Thread(target=lambda r=region: found.update({r: available_zones(clients, r)}))
               for region in ("us-east-1", "eu-west-1")]
    threads[0].start()
    assert us_asking.wait(timeout=10)  # us-east-1 is being asked (its region's lock held) ...
    threads[1].start()  # ... when eu-west-1 is
    for thread in threads:
        thread.join()
    assert set(found) == {"us-east-1", "eu-west-1"}
    assert [len(ec2.calls) for ec2 in clients.ec2.values()] == [1, 1]
