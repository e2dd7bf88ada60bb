"""What plans say of rolls: how one goes (text, Markdown, JSON), rollout settings compared with what
was applied, and a group `infra rollback` took back kept there. Pure: no server."""

from __future__ import annotations

from infra.reconciler.actions import ActionKind
from infra.reconciler.plan_json import plan_document
from infra.reconciler.planner import plan
from infra.reconciler.refs import ref
from infra.reconciler.render import plan_markdown, plan_text
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State
from tests.support.plan_schema import schema_errors
from tests.unit.test_planner import graph

ROLLOUT = {"canary": 1, "bake": 300, "alarms": ["web-5xx"], "min_healthy_percent": 100}


def asg(version="2", rollout=ROLLOUT, target_groups=("web-tg",)) -> Resource:
    return Resource(kind="asg", group="web", attributes={
        "desired_capacity": 4, "launch_template_version": version, "timeout": 120, "healthy_deadline": 600,
        "target_groups": list(target_groups), "rollout": rollout})


def found(version="1", **more) -> Observed:
    attributes = {"desired_capacity": 4, "launch_template_version": version, "timeout": 120,
                  "healthy_deadline": 600, "target_groups": ["web-tg"], "name": "web-a", **more}
    return Observed(attributes=attributes, outputs={"name": "web-a"})


def recorded(rollout=ROLLOUT) -> State:
    return State(resources={"asg.web": ResourceState(kind="asg", group="web", attributes=asg("1", rollout).attributes,
                                                     outputs={"name": "web-a"})})


def test_a_roll_says_how_it_goes_in_text_markdown_and_json():
    the_plan = plan(graph(asg()), {"asg.web": found()}, recorded())
    [action] = the_plan.actions
    assert action.action is ActionKind.REPLACE
    line = ("canary 1 of 4, bake 300 s watching web-5xx; then 4; old ASG drained from web-tg, deleted after 120 s "
            "(healthy in web-tg within 600 s at each step, else rolled back)")
    assert f"    roll: {line}" in plan_text(the_plan, color=False).splitlines()
    markdown = plan_markdown(the_plan)
    assert f"- `asg.web`: {line}" in markdown and markdown.count(line) == 1  # not in the diff block
    document = plan_document(the_plan)
    assert document["actions"][0]["roll"] == {
        "summary": line, "desired": 4, "canary": 1, "bake": 300, "alarms": ["web-5xx"], "target_groups": ["web-tg"],
        "min_healthy_percent": 100, "healthy_deadline": 600, "timeout": 120,
        "steps": [{"canary": 1}, {"bake": 300}]}
    assert schema_errors(document) == []


def test_rollout_settings_are_compared_with_what_was_applied_not_with_aws():
    assert not plan(graph(asg("1")), {"asg.web": found()}, recorded()).changes  # AWS holds no rollout
    changed = plan(graph(asg("1", {**ROLLOUT, "bake": 600})), {"asg.web": found()}, recorded())
    [action] = changed.actions
    assert action.action is ActionKind.UPDATE
    assert [(c.path, c.before, c.after) for c in action.changes] == [("rollout.bake", 300, 600)]
    assert plan_document(changed)["actions"][0]["roll"] is None  # an update rolls nothing


def test_without_a_record_the_rollout_wanted_is_taken_as_applied():
    assert not plan(graph(asg("1")), {"asg.web": found()}, State()).changes  # a lost state: nothing says otherwise
    before_rollouts = State(resources={"asg.web": ResourceState(kind="asg", group="web", attributes={})})
    assert not plan(graph(asg("1", None)), {"asg.web": found()}, before_rollouts).changes


def test_a_group_rolled_back_stays_there_while_nodes_json_wants_what_was_rolled_back():
    taken_back = found("3", rolled_back_from="4")
    held = plan(graph(asg("4")), {"asg.web": taken_back}, recorded())
    [action] = held.actions
    assert action.action is ActionKind.NOOP and action.after["launch_template_version"] == "3"
    assert action.held.startswith("held at launch_template_version 3 by infra rollback, which left 4")
    assert f"  ! asg.web: {action.held}" in plan_text(held, color=False)
    assert "> **Held back:**" in plan_markdown(held)
    assert schema_errors(plan_document(held)) == []

    resized = asg("4").model_copy(update={"attributes": {**asg("4").attributes, "desired_capacity": 6}})
    [update] = plan(graph(resized), {"asg.web": taken_back}, recorded()).actions
    assert update.action is ActionKind.UPDATE and update.after["launch_template_version"] == "3"

    moved_on = plan(graph(asg("5")), {"asg.web": taken_back}, recorded()).actions[0]
    assert moved_on.action is ActionKind.REPLACE and not moved_on.held
    unknown = asg(ref("launch_template.web", "version"))  # nodes.json changed what boots: a new version comes
    assert plan(graph(unknown), {"asg.web": taken_back}, recorded()).actions[0].action is ActionKind.REPLACE
    forced = plan(graph(asg("4")), {"asg.web": taken_back}, recorded(), forced=["asg.web"]).actions[0]
    assert forced.action is ActionKind.REPLACE and forced.after["launch_template_version"] == "4"
