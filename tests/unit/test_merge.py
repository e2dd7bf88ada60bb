"""The seed's merge rules, example by example and as properties over arbitrary settings."""

from hypothesis import given
from hypothesis import strategies as st

from infra.config.merge import merge_group, merge_value

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=3), scalars, max_size=4))
settings = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "run_list", "tags"]), values, max_size=6)


def test_lists_append_base_first():
    assert merge_value(["base"], ["group"]) == ["base", "group"]


def test_dicts_merge_one_level_and_group_keys_win():
    base = {"environment": "production", "key": "value", "nested": {"a": 1, "b": 2}}
    group = {"key": "mine", "nested": {"c": 3}}
    assert merge_value(base, group) == {"environment": "production", "key": "mine", "nested": {"c": 3}}


def test_other_types_the_group_wins():
    assert merge_value("m1.large", "m3.xlarge") == "m3.xlarge"
    assert merge_value(False, {"node_min": 2}) == {"node_min": 2}
    assert merge_value({"node_min": 2}, False) is False
    assert merge_value(["a"], "b") == "b"


def test_keys_only_in_base_are_inherited_and_inputs_untouched():
    base, group = {"region": "us-east-1", "run_list": ["x"]}, {"run_list": ["y"]}
    assert merge_group(base, group) == {"region": "us-east-1", "run_list": ["x", "y"]}
    assert base == {"region": "us-east-1", "run_list": ["x"]} and group == {"run_list": ["y"]}


@given(settings, settings)
def test_every_key_of_either_side_is_kept(base, group):
    assert set(merge_group(base, group)) == set(base) | set(group)


@given(settings, settings)
def test_each_key_follows_its_rule(base, group):
    merged = merge_group(base, group)
    for key, value in merged.items():
        if key not in group:
            assert value == base[key]
        elif key not in base:
            assert value == group[key]
        elif isinstance(base[key], list) and isinstance(group[key], list):
            assert value == base[key] + group[key]
        elif isinstance(base[key], dict) and isinstance(group[key], dict):
            assert value == {**base[key], **group[key]}
        else:
            assert value == group[key]


@given(settings)
def test_an_empty_base_changes_nothing(group):
    assert merge_group({}, group) == group
