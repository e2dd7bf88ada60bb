import pytest

from infra.errors import RegistryError
from infra.registry.agent import check_watch
from infra.registry.entry import Address


def test_a_ttl_needs_an_address_to_register_and_cannot_be_kept_by_once():
    with pytest.raises(RegistryError, match="needs --address"):
        check_watch("www", ["api"], ttl=30, address=None)
    with pytest.raises(RegistryError, match="cannot keep a --ttl lease alive"):
        check_watch("www", ["api"], ttl=30, address=Address("10.0.0.1"), once=True)


def test_a_group_that_consumes_nothing_has_nothing_to_watch_unless_it_only_keeps_its_lease():
    with pytest.raises(RegistryError, match="has no depends_on"):
        check_watch("bee", [], ttl=None, address=None)
    check_watch("bee", [], ttl=30, address=Address("10.0.0.1"))
