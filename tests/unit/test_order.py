"""Dependency order without recursion: long chains, cycles, stability. No I/O."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.config import parse_config
from infra.reconciler.graph import desired_graph
from infra.reconciler.order import Cycle, dependencies_first


def test_a_chain_far_longer_than_the_recursion_limit_is_ordered():
    chain = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(20_000)}
    assert dependencies_first(reversed(list(chain)), chain.__getitem__) == list(chain)


def test_a_cycle_is_named_with_its_path_or_its_closing_edge_left_out():
    depends = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    with pytest.raises(Cycle) as raised:
        dependencies_first(depends, depends.__getitem__)
    assert raised.value.path == ["a", "b", "c", "a"]
    assert dependencies_first(depends, depends.__getitem__, ignore_cycles=True) == ["c", "b", "a", "d"]


def test_dependencies_outside_the_items_are_ignored_and_order_is_stable():
    depends = {"b": ["a", "z"], "a": [], "c": ["b"]}
    assert dependencies_first(["c", "b", "a"], depends.__getitem__) == ["a", "b", "c"]
    assert dependencies_first(["a", "b", "c"], depends.__getitem__) == ["a", "b", "c"]


@given(st.lists(st.lists(st.integers(0, 30), max_size=4), min_size=1, max_size=30))
def test_every_item_comes_after_its_dependencies(edges):
    # only edges to earlier items: always acyclic
    depends = {f"n{i}": [f"n{j}" for j in targets if j < i] for i, targets in enumerate(edges)}
    order = dependencies_first(reversed(list(depends)), depends.__getitem__)
    assert sorted(order) == sorted(depends)
    position = {item: index for index, item in enumerate(order)}
    assert all(position[d] < position[item] for item, deps in depends.items() for d in deps)


def test_nodes_json_with_a_long_chain_of_group_sources_validates_and_graphs():
    groups = {f"g{i}": {"source_ami": f"@g{i - 1}"} for i in range(2999, 0, -1)}
    text = json.dumps({"__base__": {"instance_type": "m1.large"}, **groups, "g0": {"source_ami": "ami-1ebb2077"}})
    graph = desired_graph(parse_config(text))
    addresses = [r.address for r in graph if r.kind == "ami"]
    assert addresses == [f"ami.g{i}" for i in range(3000)]


@given(st.lists(st.lists(st.integers(0, 30), max_size=4), min_size=1, max_size=30), st.randoms())
def test_items_already_in_order_stay_as_given_and_any_order_is_ordered_the_same_way(edges, random):
    """A graph given in dependency order (nodes.json's groups, mostly) is taken as it is; a shuffled
    one is walked into a valid order."""
    depends = {f"n{i}": [f"n{j}" for j in targets if j < i] for i, targets in enumerate(edges)}
    assert dependencies_first(list(depends), depends.__getitem__) == list(depends)
    shuffled = list(depends)
    random.shuffle(shuffled)
    order = dependencies_first(shuffled, depends.__getitem__)
    position = {item: index for index, item in enumerate(order)}
    assert all(position[d] < position[item] for item, deps in depends.items() for d in deps)
