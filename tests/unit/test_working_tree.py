"""A generated file that only lags what the state records (another clone applied) is said so. Pure."""

from infra.reconciler.actions import ActionKind
from infra.reconciler.planner import plan
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State
from tests.unit.test_planner import graph

ROLE = {"path": "roles/role-web.json", "document": {"name": "role-web", "run_list": ["recipe[web::default]"]}}


def recorded(attributes: dict) -> State:
    return State(resources={"role.web": ResourceState(kind="role", group="web", attributes=attributes)})


def test_a_missing_or_different_file_the_state_records_as_wanted_names_the_other_clone():
    wanted = graph(Resource(kind="role", group="web", attributes=ROLE))
    [missing] = plan(wanted, {}, recorded(ROLE)).actions
    assert missing.action is ActionKind.CREATE
    assert missing.reason.startswith("roles/role-web.json is missing from this working tree, but the state records "
                                     "it as nodes.json wants it: applied from another clone, or edited here")
    old = Observed(attributes={**ROLE, "document": {"name": "role-web"}})
    [different] = plan(wanted, {"role.web": old}, recorded(ROLE)).actions
    assert different.action is ActionKind.UPDATE and "is different in this working tree" in different.reason


def test_a_change_of_nodes_json_or_a_first_apply_keeps_its_plain_reason():
    wanted = graph(Resource(kind="role", group="web", attributes=ROLE))
    applied_before = {**ROLE, "document": {"name": "role-web", "run_list": []}}
    [changed] = plan(wanted, {"role.web": Observed(attributes=applied_before)}, recorded(applied_before)).actions
    assert changed.reason == "changed: document"
    [first] = plan(wanted, {}, State()).actions
    assert first.reason == "does not exist yet"
