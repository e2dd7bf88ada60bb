import pytest

from infra.errors import RegistryError
from infra.registry.agent import check_watch
from infra.registry.entry import Address

AT = Address("10.0.0.1")


def test_a_ttl_or_a_check_needs_an_address_to_register_and_cannot_be_kept_by_once():
    with pytest.raises(RegistryError, match="--ttl keeps this node registered, so it needs --address"):
        check_watch("www", ["api"], exec_cmd="true", ttl=30, address=None)
    with pytest.raises(RegistryError, match="--check keeps this node registered, so it needs --address"):
        check_watch("www", ["api"], exec_cmd=None, ttl=None, address=None, checks=True)
    with pytest.raises(RegistryError, match="cannot keep --ttl going; use services:notify --ttl"):
        check_watch("www", ["api"], exec_cmd="true", ttl=30, address=AT, once=True)
    with pytest.raises(RegistryError, match="cannot keep --check going"):
        check_watch("www", ["api"], exec_cmd="true", ttl=None, address=AT, checks=True, once=True)


def test_a_group_that_consumes_nothing_has_nothing_to_watch_unless_it_only_keeps_itself_registered():
    with pytest.raises(RegistryError, match="has no depends_on"):
        check_watch("bee", [], exec_cmd="true", ttl=None, address=None)
    check_watch("bee", [], exec_cmd="true", ttl=30, address=AT)
    check_watch("bee", [], exec_cmd=None, ttl=None, address=AT, checks=True)


def test_an_agent_must_have_something_to_do():
    with pytest.raises(RegistryError, match="needs --exec CMD .* or --ttl / --check"):
        check_watch("www", ["api"], exec_cmd=None, ttl=None, address=AT)
