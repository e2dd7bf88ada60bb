"""Refresh-only plans, pure: the state takes what is found, forgets what is gone, touches nothing else."""

import pytest

from infra.errors import InfraError
from infra.reconciler.actions import ActionKind
from infra.reconciler.drift import detect_drift
from infra.reconciler.kinds import AMI
from infra.reconciler.plan import Action, Plan
from infra.reconciler.plan_json import dump_plan, plan_document, read_plan
from infra.reconciler.refresh import check_refresh, refresh_plan, refreshed
from infra.reconciler.render import plan_text
from infra.reconciler.resources import Observed
from infra.state.model import ResourceState, State
from tests.support.plan_schema import schema_errors

AMI_INPUTS = {"region": "us-east-1", "source_image": "ami-1ebb2077", "template_digest": "t1", "tags": {"team": "a"}}


def recorded() -> State:
    return State(lineage="l-1", serial=4, resources={
        "asg.web": ResourceState(kind="asg", group="web", attributes={"max_size": 2, "min_size": 1, "tags": {"a": "1"}},
                                 outputs={"name": "web-1"}, depends_on=["launch_template.web"], protect=True),
        "asg.api": ResourceState(kind="asg", group="api", attributes={"max_size": 1}, outputs={"name": "api-1"}),
        "role.web": ResourceState(kind="role", group="web", attributes={"path": "roles/role-web.json"}),
        "ami.web": ResourceState(kind="ami", group="web", attributes=AMI_INPUTS, outputs={"image_id": "ami-00000001"}),
    })


def found(**changes) -> dict[str, Observed]:
    seen = {
        "asg.web": Observed(attributes={"max_size": 2, "min_size": 1, "tags": {"a": "1"}, "name": "web-1"},
                            outputs={"name": "web-1"}),
        "asg.api": Observed(attributes={"max_size": 1}, outputs={"name": "api-1"}),
        "role.web": Observed(attributes={"path": "roles/role-web.json"}),
        "ami.web": Observed(attributes={"source_hash": AMI.build_digest(AMI_INPUTS), "tags": {"team": "a", "x": "y"}},
                            outputs={"image_id": "ami-00000001"}),
    }
    for address, attributes in changes.items():
        address = address.replace("_", ".", 1)
        if attributes is None:
            del seen[address]
        else:
            seen[address] = seen[address].model_copy(update={"attributes": {**seen[address].attributes, **attributes}})
    return seen


def test_nothing_changed_is_nothing_to_refresh():
    result = refresh_plan(recorded(), found())
    assert result.refresh_only and result.actions == [] and not result.changes


def test_a_hand_change_is_recorded_and_a_deleted_resource_forgotten_and_drift_then_reports_none():
    state, seen = recorded(), found(asg_web={"max_size": 5, "tags": {"a": "2"}}, asg_api=None)
    result = refresh_plan(state, seen)
    actions = {a.address: a for a in result.actions}
    assert set(actions) == {"asg.web", "asg.api"} and {a.action for a in result.actions} == {ActionKind.REFRESH}
    web = actions["asg.web"]
    assert web.after == {"max_size": 5, "min_size": 1, "tags": {"a": "2"}}  # recorded keys only: `name` is not
    assert [(c.path, c.before, c.after) for c in web.changes] == [("max_size", 2, 5), ("tags.a", "1", "2")]
    assert web.reason == "changed outside infra: max_size, tags" and web.protect and web.depends_on
    assert actions["asg.api"].after is None and actions["asg.api"].reason == "deleted outside infra"
    assert result.summary()["refresh"] == 2

    after = refreshed(state, result)
    assert "asg.api" not in after.resources
    assert after.resources["asg.web"].attributes["max_size"] == 5 and after.resources["asg.web"].protect
    assert not detect_drift(after, seen).has_drift


def test_a_targeted_refresh_leaves_the_rest_of_the_state_alone():
    result = refresh_plan(recorded(), found(asg_web={"max_size": 5}, asg_api=None), scope={"asg.web"})
    assert [a.address for a in result.actions] == ["asg.web"] and result.targets == ["asg.web"]


def test_an_ami_takes_the_tags_found_but_not_another_build():
    state = recorded()
    retagged = refresh_plan(state, found(ami_web={"tags": {"team": "b", "x": "y"}}))
    [action] = retagged.actions
    assert action.after["tags"] == {"team": "b"}  # the tags infra manages; the backup tool's `x` is not
    assert not detect_drift(refreshed(recorded(), retagged), found(ami_web={"tags": {"team": "b", "x": "y"}})).has_drift

    rebuilt = found(ami_web={"source_hash": "other"})
    rebuilt["ami.web"] = rebuilt["ami.web"].model_copy(update={"outputs": {"image_id": "ami-00000002"}})
    [action] = refresh_plan(state, rebuilt).actions
    assert action.outputs["image_id"] == "ami-00000002"
    assert "ami-00000002 was built from other inputs than recorded, which a refresh cannot accept" in action.reason


def test_the_document_of_a_refresh_plan_validates_and_reads_back():
    result = refresh_plan(recorded(), found(asg_web={"max_size": 5}, asg_api=None))
    document = plan_document(result)
    assert document["refresh_only"] is True and {a["action"] for a in document["actions"]} == {"refresh"}
    assert schema_errors(document) == []
    again = read_plan(dump_plan(result), "saved.plan")
    assert again.refresh_only and again.actions == result.actions


def test_the_text_says_only_the_state_changes():
    text = plan_text(refresh_plan(recorded(), found(asg_web={"max_size": 5}, asg_api=None)), color=False)
    assert "  # asg.web will be refreshed in state (what is there now is recorded; nothing else changes): " \
           "changed outside infra: max_size\n <= asg.web\n    ~ max_size: 2 -> 5" in text
    assert "  # asg.api will be forgotten from state: deleted outside infra\n <= asg.api" in text
    assert text.endswith("Refresh-only plan: 2 to record in state (1 gone, to forget); nothing else changes. "
                         "nodes.json is not changed: edit it to keep what you accept, or the next apply puts it back.")
    assert plan_text(refresh_plan(recorded(), found()), color=False).endswith(
        "No changes. The state records what exists: nothing to refresh.")


@pytest.mark.parametrize("refresh_only, kind", [(True, ActionKind.UPDATE), (False, ActionKind.REFRESH)])
def test_refresh_actions_and_other_changes_never_mix(refresh_only, kind):
    mixed = Plan(refresh_only=refresh_only, actions=[Action(address="asg.web", kind="asg", group="web", action=kind,
                                                            before={}, after={})])
    with pytest.raises(InfraError, match="plan again"):
        check_refresh(mixed)
