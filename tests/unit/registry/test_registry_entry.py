import pytest

from infra.errors import RegistryError
from infra.registry.entry import Address, Entry, State


@pytest.mark.parametrize("text, host, port", [
    ("10.0.1.5:8080", "10.0.1.5", 8080),
    ("web-1.internal", "web-1.internal", None),
    ("[fd00::5]:80", "fd00::5", 80),
    ("[::1]", "::1", None),
])
def test_addresses_parse_and_print_back_the_same(text, host, port):
    address = Address.parse(text)
    assert (address.host, address.port) == (host, port)
    assert str(address) == text


@pytest.mark.parametrize("text", ["", "host:", "host:0", "host:70000", "host:http", "a b", "fd00::5", "[fd00::5"])
def test_bad_addresses_say_what_is_expected(text):
    with pytest.raises(RegistryError, match="HOST\\[:PORT\\]|port must be"):
        Address.parse(text)


def test_an_entry_round_trips_through_its_stored_value():
    entry = Entry("api", "n1", "bee", Address("10.0.0.1", 8080), State.leaving, lease=7)
    assert Entry.from_value("api", "n1", entry.value(), lease=7) == entry
    assert entry.where() == {"node": "n1", "group": "bee", "address": "10.0.0.1:8080", "host": "10.0.0.1",
                             "port": 8080}


def test_an_unreadable_value_names_the_service_and_node():
    with pytest.raises(RegistryError, match="service 'api' on node 'n1' is unreadable"):
        Entry.from_value("api", "n1", b"not json")
