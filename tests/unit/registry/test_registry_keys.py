import pytest

from infra.errors import RegistryError
from infra.registry.keys import KeyLayout, check_node_id, check_service_name


def test_entry_keys_put_the_service_first_so_one_prefix_answers_where_it_runs():
    layout = KeyLayout("/infra")
    assert layout.entry_key("api-workers", "i-0abc") == "/infra/services/api-workers/i-0abc"
    assert layout.entry_key("api-workers", "i-0abc").startswith(layout.service_prefix("api-workers"))


def test_parse_reads_back_service_and_node_and_ignores_anything_else():
    layout = KeyLayout("/infra/staging/")
    assert layout.root == "/infra/staging"
    assert layout.parse("/infra/staging/services/api/web-1.internal") == ("api", "web-1.internal")
    assert layout.parse("/infra/staging/services/api") is None
    assert layout.parse("/infra/staging/services/api/n/extra") is None
    assert layout.parse("/infra/production/services/api/n1") is None


@pytest.mark.parametrize("node", ["", "a/b", "has space", "x" * 300])
def test_node_ids_that_would_break_the_key_layout_are_refused(node):
    with pytest.raises(RegistryError, match="can't be used as a registry key"):
        check_node_id(node)


def test_a_bad_root_is_refused():
    with pytest.raises(RegistryError, match="must look like /infra"):
        KeyLayout("infra")


@pytest.mark.parametrize("service", ["", "a/b", "has space", "x" * 201])
def test_service_names_that_would_break_the_key_layout_are_refused(service):
    with pytest.raises(RegistryError, match="service name .* can't be used as a registry key"):
        check_service_name(service)
    assert check_service_name("api-workers") == "api-workers"
