"""What the state records and a scan did not list, asked for by id before a plan calls it gone: once,
in batches, and waited for (on a fake clock) only when the state says it was made recently."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from infra.aws.consistency import NotVisible
from infra.providers.aws import instances
from infra.providers.aws.common import confirmed_by_id
from infra.providers.aws.unlisted import Lookup, Unlisted, looked_up, made_at_seconds
from infra.providers.base import Providers
from infra.reconciler.resources import Observation, Observed, Resource
from infra.state.model import ResourceState
from tests.support.fake_clock import FakeClock
from tests.unit.test_consistency import error, patience

MADE = 1_000_000.0  # the wall clock when the apply made it (seconds since the epoch)


class Aws:
    """A describe by id that shows each ident from a given moment of the fake clock on (never: None)."""

    def __init__(self, clock: FakeClock, shows: dict[str, float | None]) -> None:
        self.clock, self.shows, self.asked = clock, shows, []

    def __call__(self, idents: list[str]) -> dict[str, Any]:
        self.asked.append(list(idents))
        return {i: {"Id": i} for i in idents if self.shows.get(i) is not None and self.clock.now >= self.shows[i]}


def wall(clock: FakeClock, made_ago: float) -> Any:
    """The wall clock, `made_ago` seconds after MADE when the fake clock starts."""
    return lambda: MADE + made_ago + clock.now


def test_what_a_describe_by_id_shows_is_found_at_once_in_one_call():
    clock, said = FakeClock(), []
    aws = Aws(clock, {"web-1": 0, "bee-1": 0})
    found = looked_up([Unlisted("asg.web", "web-1", MADE), Unlisted("asg.bee", "bee-1", None)], aws,
                      patience=patience(clock), now=wall(clock, 2), say=said.append)
    assert set(found) == {"web-1", "bee-1"} and aws.asked == [["web-1", "bee-1"]]
    assert clock.sleeps == [] and said == []


def test_what_was_made_long_ago_or_never_recorded_as_made_is_not_waited_for():
    clock, said = FakeClock(), []
    aws = Aws(clock, {})
    found = looked_up([Unlisted("asg.web", "web-1", MADE), Unlisted("asg.bee", "bee-1", None)], aws,
                      patience=patience(clock), now=wall(clock, 600), say=said.append)
    assert found == {} and aws.asked == [["web-1", "bee-1"]] and clock.sleeps == [] and said == []


def test_what_was_made_seconds_ago_is_waited_for_until_aws_shows_it():
    clock, said = FakeClock(), []
    aws = Aws(clock, {"web-1": 3.0, "bee-1": 0})
    found = looked_up([Unlisted("asg.web", "web-1", MADE), Unlisted("asg.bee", "bee-1", MADE)], aws,
                      patience=patience(clock), now=wall(clock, 5), say=said.append)
    assert set(found) == {"web-1", "bee-1"}
    assert aws.asked[0] == ["web-1", "bee-1"] and all(asked == ["web-1"] for asked in aws.asked[1:])
    assert 3 <= clock.now < 8  # backoff: a quarter of a second, doubling
    [line] = said
    assert line.startswith("waiting for AWS to show asg.web (web-1): recorded as made 5s ago, not listed nor shown "
                           "by id yet (AWS is eventually consistent); 0s, up to 115s"), line


def test_what_never_shows_is_waited_for_until_it_is_the_timeout_old_then_taken_for_gone_in_one_line():
    clock, said = FakeClock(), []
    aws = Aws(clock, {"web-1": None})
    found = looked_up([Unlisted("asg.web", "web-1", MADE)], aws, patience=patience(clock, timeout=120),
                      now=wall(clock, 20), say=said.append)
    assert found == {}
    assert 99 <= clock.now <= 100.01  # until it was made 120 s ago, not 120 s more
    waits = [line for line in said if line.startswith("waiting for AWS to show asg.web")]
    assert len(waits) == 10  # a line every 10 s: at 0, 10, ..., 90 s
    assert said[-1] == ("asg.web: recorded as made 120s ago, AWS still does not show web-1 (waited 100s): taken for "
                        "gone, the plan makes it again (wait longer with __settings__.consistency_timeout or "
                        "INFRA_CONSISTENCY_TIMEOUT)")


def test_a_stop_ends_the_wait_with_one_line():
    clock = FakeClock()
    waiting = patience(clock)
    aws = Aws(clock, {})

    def describe(idents: list[str]) -> dict[str, Any]:
        if aws.asked:
            waiting.interrupt()  # Ctrl-C while it waits
        return aws(idents)

    with pytest.raises(NotVisible, match=r"infra was stopped \(Ctrl-C or SIGTERM\) while waiting for AWS to show "
                                         r"asg.web \(web-1\), made by the last apply"):
        looked_up([Unlisted("asg.web", "web-1", MADE)], describe, patience=waiting, now=wall(clock, 1),
                  say=lambda line: None)


def test_the_state_time_reads_as_seconds_since_the_epoch():
    assert made_at_seconds("1970-01-01T00:01:40Z") == 100.0
    assert made_at_seconds(None) is None and made_at_seconds("soon") is None


class Paginated:
    """A client whose describe by ids answers those in `known`, or refuses a call naming one it does not know."""

    def __init__(self, known: set[str], refuse: bool) -> None:
        self.known, self.refuse, self.calls = known, refuse, []

    def get_paginator(self, operation: str) -> Any:
        client = self

        class Pages:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                idents = kwargs["LaunchTemplateIds"]
                client.calls.append(idents)
                if client.refuse and set(idents) - client.known:
                    raise error("InvalidLaunchTemplateId.NotFound", "does not exist")
                return [{"LaunchTemplates": [{"LaunchTemplateId": i} for i in idents if i in client.known]}]

        return Pages()


class Clients:
    def __init__(self, client: Any) -> None:
        self.ec2 = client

    def client(self, service: str, region: str | None = None) -> Any:
        return self.ec2


BY_ID = Lookup("ec2", "describe_launch_templates", "LaunchTemplateIds", "LaunchTemplates", "LaunchTemplateId",
               output="id", batch=2, gone=("InvalidLaunchTemplateId.NotFound",))


def test_ids_are_asked_for_in_batches_and_one_at_a_time_when_aws_refuses_a_batch_for_one_gone():
    client = Paginated({"lt-1", "lt-2", "lt-3"}, refuse=False)
    assert set(BY_ID.describe(Clients(client), "us-east-1", ["lt-1", "lt-2", "lt-3", "lt-4", "lt-5"])) == \
        {"lt-1", "lt-2", "lt-3"}
    assert client.calls == [["lt-1", "lt-2"], ["lt-3", "lt-4"], ["lt-5"]]
    client = Paginated({"lt-1", "lt-3"}, refuse=True)
    assert set(BY_ID.describe(Clients(client), "us-east-1", ["lt-1", "lt-2", "lt-3"])) == {"lt-1", "lt-3"}
    assert client.calls == [["lt-1", "lt-2"], ["lt-1"], ["lt-2"], ["lt-3"]]


class Reservations:
    """EC2's DescribeInstances by ids: reservations holding those of `reserved` asked for; with one asked
    for that is not there, the whole call is refused."""

    def __init__(self, reserved: list[list[str]]) -> None:
        self.reserved, self.calls = reserved, []

    def get_paginator(self, operation: str) -> Any:
        client = self

        class Pages:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                idents = kwargs["InstanceIds"]
                client.calls.append(idents)
                if set(idents) - {i for ids in client.reserved for i in ids}:
                    raise error("InvalidInstanceID.NotFound", "does not exist")
                return [{"Reservations": [{"ReservationId": f"r-{n}", "Instances": [
                    {"InstanceId": i} for i in ids if i in idents]} for n, ids in enumerate(client.reserved)
                    if set(ids) & set(idents)]}]

        return Pages()


def test_instances_are_asked_for_by_id_in_batches_and_found_by_their_id_across_reservations():
    client = Reservations([["i-1", "i-2"], ["i-3"]])
    by_id = replace(instances.BY_ID, batch=3)
    found = by_id.describe(Clients(client), "us-east-1", ["i-1", "i-2", "i-3", "i-4"])
    assert found == {"i-1": {"InstanceId": "i-1"}, "i-2": {"InstanceId": "i-2"}, "i-3": {"InstanceId": "i-3"}}
    assert client.calls == [["i-1", "i-2", "i-3"], ["i-4"]]  # i-4 is gone
    client = Reservations([["i-1", "i-2"]])
    assert set(by_id.describe(Clients(client), "us-east-1", ["i-1", "i-4", "i-2"])) == {"i-1", "i-2"}
    assert client.calls == [["i-1", "i-4", "i-2"], ["i-1"], ["i-4"], ["i-2"]]  # refused for i-4: one by one


class Confirming:
    """A provider that finds by id what it is asked to confirm, and counts the calls."""

    kinds = frozenset({"asg"})

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def observe(self, resources: list[Resource]) -> Observation:
        return Observation()

    confirmed_by = "name"

    def confirm(self, resources: list[Resource], recorded: dict[str, ResourceState],
                found: dict[str, Observed]) -> Observation:
        self.asked.append([r.address for r in resources])
        return Observation(found={r.address: Observed(attributes={"name": "found by name"}) for r in resources})


def recorded(*groups: str) -> dict[str, ResourceState]:
    return {f"asg.{g}": ResourceState(kind="asg", group=g, outputs={"name": f"{g}-1"}) for g in groups}


def test_only_what_the_state_records_and_observe_did_not_find_is_asked_for_and_nothing_when_all_was_found():
    provider = Confirming()
    providers = Providers([provider])
    asked = [Resource(kind="asg", group=g) for g in ("web", "bee", "new")]
    found = Observation(found={f"asg.{g}": Observed(outputs={"name": f"{g}-1"}) for g in ("web", "bee", "new")})
    assert providers.confirm(found, asked, recorded("web", "bee")) is found and provider.asked == []  # a warm plan
    partly = providers.confirm(Observation(found={"asg.web": Observed(outputs={"name": "web-1"})}), asked,
                               recorded("web", "bee"))
    assert provider.asked == [["asg.bee"]]  # asg.new is not recorded: it does not exist yet, nothing to ask
    assert partly.found["asg.bee"].attributes == {"name": "found by name"} and "asg.new" not in partly.found


def test_what_was_found_under_another_name_than_recorded_is_asked_for_too():
    """A roll's new ASG not listed yet, and its old one, kept warm, listed: the old one is not the group's."""
    provider = Confirming()
    found = Observation(found={"asg.web": Observed(outputs={"name": "web-0"}), "asg.bee": Observed(
        outputs={"name": "bee-1"})})
    Providers([provider]).confirm(found, [Resource(kind="asg", group=g) for g in ("web", "bee")],
                                  recorded("web", "bee"))
    assert provider.asked == [["asg.web"]] and found.found["asg.web"].attributes == {"name": "found by name"}


class Described:
    """A lookup by name whose describe shows `shown`, noting what it was asked."""

    output = "name"

    def __init__(self, shown: set[str]) -> None:
        self.shown, self.asked = shown, []

    def describe(self, clients: Any, region: str, idents: list[str]) -> dict[str, Any]:
        self.asked.append((region, list(idents)))
        return {i: {"AutoScalingGroupName": i} for i in idents if i in self.shown}


def test_confirmed_by_id_describes_the_recorded_name_and_the_listed_one_together_and_reads_them_as_a_scan_would():
    clock = FakeClock()
    clients = type("Clients", (), {"patience": patience(clock)})()
    lookup = Described({"web-2", "web-1"})
    state = {"asg.web": ResourceState(kind="asg", group="web", outputs={"name": "web-2"},
                                      attributes={"region": "us-east-1"})}
    read_as: list[list[str]] = []

    def read(region: str, items: list[dict[str, Any]], wanted: dict[str, Any]) -> dict[str, Observed]:
        read_as.append(sorted(i["AutoScalingGroupName"] for i in items))
        return {"asg.web": Observed(outputs={"name": "web-2"}), "asg.web.web-0": Observed(),
                "asg.bee": Observed()}  # another group's: not asked about here

    shown = confirmed_by_id(lookup, clients, [Resource(kind="asg", group="web")], state,  # type: ignore[arg-type]
                            {"asg.web": Observed(outputs={"name": "web-1"})}, read)
    assert lookup.asked == [("us-east-1", ["web-2", "web-1"])] and read_as == [["web-1", "web-2"]]
    assert set(shown.found) == {"asg.web", "asg.web.web-0"} and clock.sleeps == []
