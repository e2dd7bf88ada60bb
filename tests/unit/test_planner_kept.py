"""The old ASG a roll kept warm (rollout.keep_previous) in plans: it goes with its group's ASG, or once
the group keeps none, and never under a roll of the same plan (reconciler/kept.py); its window, shorter
when keep_previous is lowered (asg_observed.py). Pure: no server."""

from __future__ import annotations

from infra.providers.aws.asg_observed import kept_until
from infra.reconciler.actions import ActionKind
from infra.reconciler.planner import plan
from infra.reconciler.removals import removed
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State
from tests.unit.test_planner import graph

KEPT = "asg.web.web-old"
ROLLOUT = {"canary": 1, "keep_previous": 600}


def asg(version="2", rollout=ROLLOUT) -> Resource:
    return Resource(kind="asg", group="web", attributes={"desired_capacity": 2, "launch_template_version": version,
                                                         "target_groups": ["web-tg"], "rollout": rollout},
                    depends_on=("launch_template.web",))


def template() -> Resource:
    return Resource(kind="launch_template", group="web", attributes={"name": "web"})


def found() -> dict[str, Observed]:
    """The live ASG (version 2), with the old one (version 1) kept warm beside it, as the provider observes them."""
    live = Observed(attributes={"desired_capacity": 2, "launch_template_version": "2", "target_groups": ["web-tg"],
                                "name": "web-new", "instances": ["i-3", "i-4"], "region": "us-east-1",
                                "kept_previous": {"asg": "web-old", "until": "2026-12-08T09:00:00Z", "instances": 2}},
                    outputs={"name": "web-new"})
    live.earlier = {KEPT: Observed(attributes={"name": "web-old", "instances": ["i-1", "i-2"], "region": "us-east-1",
                                               "target_groups": [], "kept_until": "2026-12-08T09:00:00Z"},
                                   outputs={"name": "web-old"})}
    return {"asg.web": live, "launch_template.web": Observed(attributes={"name": "web"}, outputs={"id": "lt-1"})}


def recorded(rollout=ROLLOUT) -> State:
    return State(resources={
        "launch_template.web": ResourceState(kind="launch_template", group="web", attributes={"name": "web"},
                                             outputs={"id": "lt-1"}),
        "asg.web": ResourceState(kind="asg", group="web", attributes=asg("2", rollout).attributes,
                                 outputs={"name": "web-new"}, depends_on=["launch_template.web"])})


def test_a_kept_asg_of_a_group_that_keeps_one_is_no_change():
    assert not plan(graph(template(), asg()), found(), recorded()).changes


def test_a_removed_group_takes_its_kept_asg_and_its_launch_template_waits_for_both_asgs():
    actions = {a.address: a for a in plan(graph(), found(), recorded()).actions}
    assert {address: a.action for address, a in actions.items()} == {
        "asg.web": ActionKind.DELETE, KEPT: ActionKind.DELETE, "launch_template.web": ActionKind.DELETE}
    assert set(actions["launch_template.web"].depends_on) == {"asg.web", KEPT}
    assert removed(actions[KEPT]) == ["autoscaling group web-old and its 2 instance(s): i-1, i-2"]
    assert actions[KEPT].reason == ("kept warm after its roll until 2026-12-08T09:00:00Z for a fast rollback "
                                    "(rollout.keep_previous); its group's ASG is no longer in nodes.json: it goes "
                                    "with it")


def test_keep_previous_turned_off_deletes_the_kept_asg_beside_the_rollout_update():
    actions = {a.address: a for a in plan(graph(template(), asg(rollout={"canary": 1})), found(), recorded()).actions}
    assert actions["asg.web"].action is ActionKind.UPDATE  # the rollout, recorded
    assert actions[KEPT].action is ActionKind.DELETE and actions[KEPT].reason.endswith(
        "the group keeps none now (keep_previous is off)")


def test_a_roll_in_the_same_plan_leaves_the_kept_asg_alone():
    """infra rollback may attach it again; the plan after the roll sees to it."""
    actions = {a.address: a for a in plan(graph(template(), asg("3", rollout={"canary": 1})), found(),
                                          recorded()).actions}
    assert actions["asg.web"].action is ActionKind.REPLACE and KEPT not in actions


def test_a_targeted_plan_takes_the_kept_asg_with_its_live_one_and_leaves_it_when_that_is_out_of_scope():
    off = graph(template(), asg(rollout={"canary": 1}))
    assert KEPT in {a.address for a in plan(off, found(), recorded(), scope={"asg.web"}).actions}
    assert KEPT not in {a.address for a in plan(off, found(), recorded(), scope={"launch_template.web"}).actions}


def test_a_lower_keep_previous_ends_a_kept_window_sooner_counted_from_when_it_was_kept():
    tags = [{"Key": "infra:kept_until", "Value": "2026-12-08T10:00:00Z"},
            {"Key": "infra:kept_since", "Value": "2026-12-08T09:00:00Z"}]
    kept = {"Tags": tags}
    assert kept_until(kept, 600) == "2026-12-08T09:10:00Z"
    assert kept_until(kept, 3600) == kept_until(kept, 7200) == "2026-12-08T10:00:00Z"  # a higher one: not longer
    assert kept_until(kept, 0) == "2026-12-08T10:00:00Z"  # off: the planner deletes it (kept.py)
    assert kept_until({"Tags": tags[:1]}, 600) == "2026-12-08T10:00:00Z"  # kept before infra tagged since when
