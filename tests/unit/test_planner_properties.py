"""Properties of the planner over random graphs (hypothesis): its order keeps every dependency, the
desired world planned against itself is no change, and deletions' waits never break the order (a
removed group's nodes wait for exactly the new groups that take over from it)."""

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
    """Desired resources of several kinds in a few groups, others only recorded in state (to be
    deleted), and a random part of both found; roles run one of two run lists, so some new groups
    take over from some removed ones: the deletions' extra waits must never break the order."""
    kinds, run_lists = st.sampled_from(["role", "asg", "instance"]), st.sampled_from([["recipe[a]"], ["recipe[b]"]])

    def attributes(kind: str) -> dict:
        return {"n": draw(st.integers(0, 1)), **({"document": {"run_list": draw(run_lists)}} if kind == "role" else {})}

    desired: dict[str, Resource] = {}
    recorded: dict[str, ResourceState] = {}
    for _ in range(draw(st.integers(0, 8))):
        kind, group = draw(kinds), draw(st.sampled_from(["g0", "g1", "g2", "g3"]))
        resource = Resource(kind=kind, group=group, name="n" if kind == "instance" else None,
                            depends_on=tuple(sorted(draw(st.sets(st.sampled_from(list(desired)), max_size=2))
                                                    if desired else ())), attributes=attributes(kind))
        desired.setdefault(resource.address, resource)
    for _ in range(draw(st.integers(0, 8))):
        kind, group = draw(kinds), draw(st.sampled_from(["old0", "old1", "old2", "old3"]))
        address = f"{kind}.{group}" + (".n" if kind == "instance" else "")
        deps = draw(st.sets(st.sampled_from([*recorded, *desired]), max_size=2)) if recorded or desired else set()
        recorded.setdefault(address, ResourceState(kind=kind, group=group, depends_on=sorted(deps - {address}),
                                                   attributes=attributes(kind)))
    found = draw(st.sets(st.sampled_from([*recorded, *desired]))) if recorded or desired else set()
    observed = {address: Observed(attributes={"n": 0}) for address in found}
    return list(desired.values()), State(resources=recorded), observed


@given(worlds())
def test_deletions_wait_for_what_starts_without_breaking_the_order(case):
    desired, state, observed = case
    result = plan(graph(*desired), observed, state)
    position = {a.address: i for i, a in enumerate(result.actions)}
    known = {address.split(".")[1] for address in (*state.resources, *observed)
             if address.split(".")[0] in ("asg", "instance")}
    starting = {a.address for a in result.actions
                if a.kind in ("asg", "instance") and a.action is ActionKind.CREATE and a.group not in known}
    roles = {**{f"role.{r.group}": r.attributes for r in state.resources.values() if r.kind == "role"},
             **{r.address: r.attributes for r in desired if r.kind == "role"}}

    def run_list(group: str) -> list:
        return roles.get(f"role.{group}", {}).get("document", {}).get("run_list", [])

    groups = {r.group for r in desired}
    for action in result.actions:
        assert all(position[d] < position[action.address] for d in action.depends_on if d in position)
        if action.action is ActionKind.DELETE and action.kind in ("asg", "instance"):
            removed = action.group not in groups
            successors = {new for new in starting if removed and run_list(action.group)
                          and run_list(new.split(".")[1]) == run_list(action.group)}
            assert starting & set(action.depends_on) == successors
            assert action.hold is bool(successors)
