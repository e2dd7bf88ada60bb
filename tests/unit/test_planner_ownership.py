"""What the planner does with resources that are not this project's: notice, block, adopt. No I/O."""

from hypothesis import given
from hypothesis import strategies as st

from infra.reconciler.actions import ActionKind
from infra.reconciler.planner import plan
from infra.reconciler.resources import Observed, Unowned
from infra.state.model import ResourceState, State
from tests.unit.test_planner import ami, asg, built, graph, kinds, launch_template, role, seen


def untagged(address: str, observed: Observed, what: str = "something") -> Unowned:
    return Unowned(address=address, owner="", description=what, observed=observed)


def theirs(address: str, owner: str = "other-ops") -> Unowned:
    return Unowned(address=address, owner=owner, description="theirs")


def fleet():
    return graph(role(), ami(), launch_template(), asg())


def legacy_fleet() -> list[Unowned]:
    """web's AMI, launch template and ASG as an infra without owner tags left them."""
    template = launch_template()
    return [untagged("ami.web", built(ami(), "ami-0ld00000"), "AMI ami-0ld00000"),
            untagged("launch_template.web", Observed(
                attributes={**template.attributes, "image_id": "ami-0ld00000"},
                outputs={"id": "lt-1", "version": "3"}), "launch template web"),
            untagged("asg.web", Observed(attributes={"max_size": 2, "launch_template_version": "3"},
                                         outputs={"name": "web-1"}), "autoscaling group web-1")]


def test_another_projects_look_alike_is_noticed_and_never_touched():
    result = plan(fleet(), {"role.web": seen(role())}, State(), unowned=[theirs("asg.web"), theirs("ami.web")])
    assert kinds(result)["asg.web"] is ActionKind.CREATE  # this project's own is made beside it
    assert not [a for a in result.actions if a.action is ActionKind.DELETE]
    assert [(n.address, n.owner, n.blocking) for n in result.notices] == [("asg.web", "other-ops", False),
                                                                         ("ami.web", "other-ops", False)]
    assert "belongs to project 'other-ops'" in result.notices[0].reason


def test_what_was_made_before_owner_tags_blocks_a_plan_that_would_make_it_again():
    result = plan(fleet(), {"role.web": seen(role())}, State(), unowned=legacy_fleet())
    assert {n.address for n in result.notices if n.blocking} == {"ami.web", "launch_template.web", "asg.web"}
    assert all("--adopt" in n.reason for n in result.notices)


def test_adopt_tags_it_and_changes_nothing_else_and_what_depends_on_it_sees_its_outputs():
    result = plan(fleet(), {"role.web": seen(role())}, State(), unowned=legacy_fleet(), adopt=True)
    assert kinds(result) == {"role.web": ActionKind.NOOP, "ami.web": ActionKind.ADOPT,
                             "launch_template.web": ActionKind.ADOPT, "asg.web": ActionKind.ADOPT}
    assert result.notices == [] and result.summary()["adopt"] == 3
    by_address = {a.address: a for a in result.actions}
    # the launch template's wanted attributes resolve through the adopted AMI: recorded as wanted
    assert by_address["launch_template.web"].after["image_id"] == "ami-0ld00000"
    assert by_address["asg.web"].outputs == {"name": "web-1"}


def test_a_group_neither_nodes_json_nor_the_state_names_is_never_adopted():
    stray = untagged("asg.gone", Observed(attributes={"max_size": 1}, outputs={"name": "gone-1"}))
    result = plan(fleet(), {}, State(), unowned=[stray], adopt=True)
    assert "asg.gone" not in kinds(result)
    [notice] = result.notices
    assert not notice.blocking and "neither nodes.json nor the state names" in notice.reason


def test_a_removed_group_recorded_in_state_is_adopted_then_deleted_by_the_next_plan():
    state = State(resources={"asg.old": ResourceState(kind="asg", group="old", attributes={"max_size": 1})})
    stray = untagged("asg.old", Observed(attributes={"max_size": 1}, outputs={"name": "old-1"}))
    refused = plan(fleet(), {}, state, unowned=[stray])
    assert kinds(refused)["asg.old"] is ActionKind.NOOP  # not found as this project's: forgotten, not deleted
    assert [n.blocking for n in refused.notices] == [True]
    adopted = plan(fleet(), {}, state, unowned=[stray], adopt=True)
    assert kinds(adopted)["asg.old"] is ActionKind.ADOPT
    then = plan(fleet(), {"asg.old": stray.observed}, state)
    assert kinds(then)["asg.old"] is ActionKind.DELETE


def test_one_made_before_owner_tags_beside_this_projects_own_is_left_alone():
    observed = {"role.web": seen(role()), "ami.web": built(ami())}
    result = plan(graph(role(), ami()), observed, State(), unowned=legacy_fleet()[:1], adopt=True)
    assert kinds(result)["ami.web"] is ActionKind.NOOP
    [notice] = result.notices
    assert "beside this project's own" in notice.reason and not notice.blocking


def test_an_asg_made_before_owner_tags_beside_this_projects_asg_is_not_adopted():
    """Another repository's web ASG from before owner tags stands beside this project's asg.web, so it is
    reported at asg.web.<name>: --adopt must not take it (the next plan would delete it as a leftover)."""
    observed = {"role.web": seen(role()), "ami.web": built(ami()), "asg.web": seen(asg(), name="web-1")}
    legacy = untagged("asg.web.web-legacy", Observed(attributes={"max_size": 2}, outputs={"name": "web-legacy"}),
                      "autoscaling group web-legacy")
    result = plan(fleet(), observed, State(), unowned=[legacy], adopt=True)
    assert "asg.web.web-legacy" not in kinds(result)
    [notice] = result.notices
    assert "beside this project's own" in notice.reason and not notice.blocking


def test_a_targeted_plan_notices_only_what_it_is_about():
    other = role("api")
    desired = graph(role(), ami(), other)
    result = plan(desired, {}, State(), scope={"role.api"}, unowned=[theirs("ami.web")])
    assert result.notices == []


addresses = st.sampled_from(["role.web", "ami.web", "launch_template.web", "asg.web", "asg.web.web-old",
                             "ami.api", "asg.api", "instance.api.one"])
unowned_items = st.builds(lambda address, owner: Unowned(address=address, owner=owner, description="x",
                                                         observed=Observed(outputs={"name": "x"})),
                          addresses, st.sampled_from(["", "other-ops", "third"]))


@given(st.lists(unowned_items, max_size=6), st.booleans())
def test_nothing_unowned_is_ever_deleted_or_changed_only_untagged_is_adopted(items, adopt):
    result = plan(fleet(), {"role.web": seen(role())}, State(), unowned=items, adopt=adopt)
    theirs_only = {i.address for i in items if i.owner} - {i.address for i in items if not i.owner}
    for action in result.actions:
        assert not (action.address in theirs_only and action.action in (ActionKind.DELETE, ActionKind.ADOPT))
        if action.action is ActionKind.ADOPT:
            assert adopt and action.address in {i.address for i in items if not i.owner}
            assert action.group == "web"  # only a group nodes.json (or the state) names
    assert not [a for a in result.actions if a.action is ActionKind.DELETE]  # nothing of this project's to delete
