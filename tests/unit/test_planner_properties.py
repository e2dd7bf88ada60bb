"""Properties of the planner over random graphs (hypothesis): its order keeps every dependency, the
desired world planned against itself is no change, and deletions' waits never break the order."""

from hypothesis import given
from hypothesis import strategies as st

from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import Graph, topological
from infra.reconciler.planner import plan
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State


def graph(*resources: Resource) -> Graph:
    return Graph(topological(resources))


@st.composite
def dags(draw):
    size = draw(st.integers(1, 12))
    resources = []
    for i in range(size):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        resources.append(Resource(kind="role", group=f"g{i}", depends_on=tuple(f"role.g{d}" for d in sorted(deps)),
                                  attributes={"path": f"r{i}", "n": draw(st.integers(0, 2))}))
    order = draw(st.permutations(resources))
    present = draw(st.sets(st.integers(0, size - 1)))
    return order, {f"role.g{i}": Observed(attributes={"path": f"r{i}", "n": 0}) for i in present}


@given(dags())
def test_actions_come_after_everything_they_depend_on(case):
    resources, observed = case
    result = plan(graph(*resources), observed, State())
    position = {a.address: i for i, a in enumerate(result.actions)}
    for action in result.actions:
        assert all(position[d] < position[action.address] for d in action.depends_on)


@given(dags())
def test_planning_against_the_desired_world_finds_nothing_to_do(case):
    resources, _ = case
    observed = {r.address: Observed(attributes=dict(r.attributes)) for r in resources}
    assert not plan(graph(*resources), observed, State()).changes


@st.composite
def worlds(draw):
    """Desired resources of several kinds, others only recorded in state (to be deleted), and a
    random part of both found: the deletions' extra waits must never break the order."""
    kinds = st.sampled_from(["role", "asg", "instance"])
    desired, recorded = [], {}
    for i in range(draw(st.integers(0, 8))):
        kind = draw(kinds)
        deps = draw(st.sets(st.sampled_from([r.address for r in desired]), max_size=2)) if desired else set()
        desired.append(Resource(kind=kind, group=f"g{i}", name="n" if kind == "instance" else None,
                                depends_on=tuple(sorted(deps)), attributes={"n": draw(st.integers(0, 1))}))
    for i in range(draw(st.integers(0, 8))):
        kind = draw(kinds)
        address = f"{kind}.old{i}" + (".n" if kind == "instance" else "")
        deps = draw(st.sets(st.sampled_from([*recorded, *(r.address for r in desired)]), max_size=2)) \
            if recorded or desired else set()
        recorded[address] = ResourceState(kind=kind, group=f"old{i}", depends_on=sorted(deps))
    found = draw(st.sets(st.sampled_from([*recorded, *(r.address for r in desired)]))) if recorded or desired else set()
    observed = {address: Observed(attributes={"n": 0}) for address in found}
    return desired, State(resources=recorded), observed


@given(worlds())
def test_deletions_wait_for_what_starts_without_breaking_the_order(case):
    desired, state, observed = case
    result = plan(graph(*desired), observed, state)
    position = {a.address: i for i, a in enumerate(result.actions)}
    known = {address.split(".")[1] for address in (*state.resources, *observed)
             if address.split(".")[0] in ("asg", "instance")}
    starting = {a.address for a in result.actions
                if a.kind in ("asg", "instance") and a.action is ActionKind.CREATE and a.group not in known}
    groups = {r.group for r in desired}
    for action in result.actions:
        assert all(position[d] < position[action.address] for d in action.depends_on if d in position)
        if action.action is ActionKind.DELETE and action.kind in ("asg", "instance"):
            removed = action.group not in groups
            assert (starting <= set(action.depends_on)) if removed else not (starting & set(action.depends_on))
            assert action.hold is (removed and bool(starting))
