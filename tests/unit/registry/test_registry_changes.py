from infra.registry.changes import notify_changes, reusable_lease, withdrawn
from infra.registry.entry import Address, Entry

HERE = Address("10.0.0.1", 8080)


def entry(service, node="n1", lease=0, address=HERE, group="bee"):
    return Entry(service, node, group, address, lease=lease)


def test_notify_writes_every_service_the_first_time():
    changes = notify_changes([], "bee", "n1", HERE, ["api", "cron"], lease=0)
    assert [e.service for e in changes.put] == ["api", "cron"]


def test_notify_again_with_the_same_facts_writes_nothing():
    current = [entry("api"), entry("cron")]
    changes = notify_changes(current, "bee", "n1", HERE, ["api", "cron"], lease=0)
    assert changes.put == [] and len(changes.unchanged) == 2


def test_a_new_address_or_lease_rewrites_only_this_nodes_entries():
    current = [entry("api"), entry("api", node="n2")]
    moved = notify_changes(current, "bee", "n1", Address("10.0.0.9"), ["api"], lease=0)
    assert [(e.node, str(e.address)) for e in moved.put] == [("n1", "10.0.0.9")]
    leased = notify_changes(current, "bee", "n1", HERE, ["api"], lease=42)
    assert [e.lease for e in leased.put] == [42]


def test_withdrawn_is_what_the_node_registered_but_no_longer_runs():
    current = [entry("api"), entry("cron"), entry("old"), entry("old", node="n2")]
    assert [e.service for e in withdrawn(current, "n1", keep=["api", "cron"])] == ["old"]
    assert [e.service for e in withdrawn(current, "n1", keep=[])] == ["api", "cron", "old"]


def test_a_single_shared_lease_is_reused_and_a_mixed_one_is_not():
    assert reusable_lease([entry("api", lease=5), entry("cron", lease=5)], "n1") == 5
    assert reusable_lease([entry("api", lease=5), entry("cron", lease=6)], "n1") == 0
    assert reusable_lease([entry("api", node="n2", lease=5)], "n1") == 0
