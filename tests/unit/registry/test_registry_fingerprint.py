import pytest

from infra.errors import RegistryError
from infra.registry.entry import Address, Entry, State
from infra.registry.fingerprint import WatchRecord, changed, digests


def entry(service, node, state=State.up, lease=0, address="10.0.0.1:80"):
    return Entry(service, node, "bee", Address.parse(address), state, lease)


def test_only_what_consumers_see_changes_the_digest():
    base = digests([entry("api", "n1"), entry("api", "n2")], ["api"])
    assert digests([entry("api", "n2"), entry("api", "n1", lease=9)], ["api"]) == base  # order, lease
    assert digests([entry("api", "n1"), entry("api", "n2"), entry("cron", "n3")], ["api"]) == base
    assert digests([entry("api", "n1")], ["api"]) != base  # a node left
    assert digests([entry("api", "n1"), entry("api", "n2", state=State.leaving)], ["api"]) != base
    # ...and once it is leaving, its removal changes nothing more.
    assert digests([entry("api", "n1"), entry("api", "n2", state=State.leaving)], ["api"]) == \
        digests([entry("api", "n1")], ["api"])


def test_changed_lists_services_whose_digest_moved_or_everything_at_first():
    now = {"api": "a", "web": "w"}
    assert changed(None, now) == ["api", "web"]
    assert changed({"api": "a", "web": "x"}, now) == ["web"]
    assert changed(now, now) == []


def test_a_record_survives_a_restart(tmp_path):
    path = tmp_path / "deep" / "record.json"
    assert WatchRecord.load(path).digests is None
    WatchRecord.load(path).save({"api": "a"})
    assert WatchRecord.load(path).digests == {"api": "a"}


def test_a_broken_record_says_how_to_recover(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("{")
    with pytest.raises(RegistryError, match="delete it to start afresh"):
        WatchRecord.load(path)
