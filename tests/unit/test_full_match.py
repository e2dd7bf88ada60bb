"""Every name check matches the whole value: Python's `$` also matches before a final newline."""

import pytest

from infra.config.chef import is_valid_run_list_item
from infra.config.models import check_group_name, check_region
from infra.errors import RegistryError
from infra.reconciler.refs import parse_ref
from infra.registry.entry import Address
from infra.registry.keys import KeyLayout, check_node_id, check_service_name


@pytest.mark.parametrize("check", [check_group_name, check_region])
def test_config_names_with_a_final_newline_are_refused(check):
    with pytest.raises(ValueError):
        check({"check_group_name": "web\n", "check_region": "us-east-1\n"}[check.__name__])


def test_a_group_name_longer_than_aws_names_allow_is_refused_with_the_reason():
    assert check_group_name("w" * 64) == "w" * 64
    with pytest.raises(ValueError, match="is 65 characters; at most 64, because it names the group's AMIs"):
        check_group_name("w" * 65)


def test_run_list_items_and_references_with_a_final_newline_are_not_taken():
    assert not is_valid_run_list_item("recipe[a]\n") and not is_valid_run_list_item("a::b\n")
    assert parse_ref("${ami.web.image_id}\n") is None and parse_ref("${ami.web.image_id}") is not None


@pytest.mark.parametrize("check, value", [(check_node_id, "n1\n"), (check_node_id, ".."), (check_node_id, ".x"),
                                          (check_service_name, "api\n"), (KeyLayout, "/infra\n")])
def test_registry_names_must_be_plain(check, value):
    with pytest.raises(RegistryError):
        check(value)


def test_an_address_with_a_newline_in_its_host_or_a_unicode_port_is_refused():
    for text in ("web\n:80", "web:٣"):
        with pytest.raises(RegistryError):
            Address.parse(text)
