"""Chef's normal form of run lists, the role document and services of a run list."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.config.chef import dna_document, normalize_run_list, normalize_run_list_item, services_in_run_list


@pytest.mark.parametrize("item, normal", [
    ("recipe[sudo]", "recipe[sudo::default]"),
    ("sudo", "recipe[sudo::default]"),
    ("recipe[seatgeek::base-server]", "recipe[seatgeek::base-server]"),
    ("seatgeek::base-server", "recipe[seatgeek::base-server]"),
    ("role[web]", "role[web]"),
    ("recipe[nginx@1.2.3]", "recipe[nginx::default@1.2.3]"),
])
def test_items_take_chefs_normal_form(item, normal):
    assert normalize_run_list_item(item) == normal


def test_repeats_are_dropped_keeping_the_first_even_when_spelled_differently():
    assert normalize_run_list(["recipe[a]", "recipe[b]", "a", "recipe[a::default]"]) == \
        ["recipe[a::default]", "recipe[b::default]"]


@pytest.mark.parametrize("bad", ["recipe[]", "recipe[a b]", "rol[x]", "recipe[x", ""])
def test_malformed_items_are_rejected(bad):
    with pytest.raises(ValueError):
        normalize_run_list_item(bad)


names = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True)


@given(st.lists(st.builds(lambda c, r: f"recipe[{c}::{r}]" if r else f"recipe[{c}]",
                          names, st.one_of(st.none(), names)), max_size=12))
def test_normalising_is_idempotent_and_leaves_no_repeats(items):
    once = normalize_run_list(items)
    assert normalize_run_list(once) == once
    assert len(once) == len(set(once))


def test_services_are_the_recipes_of_service_cookbooks():
    run_list = ["recipe[seatgeek::base-server]", "recipe[seatgeek-service::api-workers]",
                "recipe[other-service::cron]", "recipe[seatgeek-service::default]"]
    assert services_in_run_list(run_list) == ["api-workers", "cron"]
    assert services_in_run_list(run_list, cookbook="other-service") == ["cron"]


def test_dna_runs_the_groups_role():
    assert dna_document("12_04-bee", "12_04-bee") == {"id": "12_04-bee", "run_list": ["role[role-12_04-bee]"]}
