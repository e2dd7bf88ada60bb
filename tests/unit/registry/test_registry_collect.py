from infra.registry.collect import collect
from infra.registry.entry import Address, Entry, State


def entry(service, node, address, state=State.up, group="bee"):
    return Entry(service, node, group, Address.parse(address), state)


ENTRIES = [
    entry("api", "n1", "10.0.0.1:80"),
    entry("api", "n2", "10.0.0.2:80", state=State.leaving),
    entry("old", "me", "10.0.0.9:80"),
]


def test_collect_has_the_seeds_shape_under_one_documented_key():
    data = collect(ENTRIES, group="bee", runs=["api"], known=["api", "cron"], node="me",
                   address=Address.parse("10.0.0.9:80"))
    assert list(data) == ["seatgeek-services"]
    assert data["seatgeek-services"]["available"] == {"api": True, "old": False}
    services = data["seatgeek-services"]["services"]
    assert list(services) == ["api", "cron", "old"]
    assert [w["node"] for w in services["api"]] == ["me", "n1"]  # this node included, the leaving one not
    assert services["cron"] == []
    assert services["old"] == []  # this node no longer runs it, so it is not offered


def test_without_a_node_collect_lists_only_what_is_registered_and_up():
    data = collect(ENTRIES, group="www", runs=[], known=[], attribute="registry")
    assert data["registry"]["available"] == {}
    assert [w["node"] for w in data["registry"]["services"]["api"]] == ["n1"]


def test_this_node_uses_its_registered_address_or_else_its_id():
    registered = collect([entry("api", "me", "10.0.0.7:81")], group="bee", runs=["api"], known=[], node="me")
    assert registered["seatgeek-services"]["services"]["api"][0]["address"] == "10.0.0.7:81"
    unknown = collect([], group="bee", runs=["api"], known=[], node="web-3.internal")
    assert unknown["seatgeek-services"]["services"]["api"][0]["host"] == "web-3.internal"
