"""What plan and drift reports show for a change: no server, only the pure diff and renderers."""

import json

from infra.reconciler.drift import detect_drift
from infra.reconciler.planner import plan
from infra.reconciler.render import drift_json, drift_markdown, drift_text, plan_json, plan_markdown, plan_text
from infra.reconciler.resources import Observed
from infra.state.model import ResourceState, State
from tests.unit.test_planner import graph, role


def _state_with(document: dict) -> State:
    return State(resources={"role.web": ResourceState(kind="role", group="web", attributes={
        "path": "roles/role-web.json", "document": document})})


def test_drift_tells_a_key_added_or_removed_by_hand_from_a_null_value():
    state = _state_with({"default_attributes": {"kept": "x", "gone": "y", "empty": None}})
    observed = {"role.web": Observed(attributes={"path": "roles/role-web.json", "document": {
        "default_attributes": {"kept": "x", "empty": None, "added": None}}})}
    report = detect_drift(state, observed)

    text = drift_text(report, color=False)
    assert "document.default_attributes.gone: recorded \"y\", actual (absent)" in text
    assert "document.default_attributes.added: recorded (absent), actual null" in text
    assert "| `document.default_attributes.gone` | `\"y\"` | `(absent)` |" in drift_markdown(report)
    changes = {c["path"]: c for c in json.loads(drift_json(report))["drifted"][0]["changes"]}
    assert changes["document.default_attributes.added"]["recorded_absent"] is True
    assert changes["document.default_attributes.added"]["actual"] is None
    assert changes["document.default_attributes.gone"]["actual_absent"] is True


def test_a_plan_shows_a_new_key_as_coming_from_absent():
    desired = graph(role(run_list=("recipe[a::default]",)))
    found = dict(desired["role.web"].attributes, document={})
    the_plan = plan(desired, {"role.web": Observed(attributes=found)}, State())
    assert "~ document.run_list: (absent) -> [\"recipe[a::default]\"]" in plan_text(the_plan, color=False)
    change = json.loads(plan_json(the_plan))["actions"][0]["changes"][0]
    assert change["before_absent"] is True and change["after_absent"] is False


def test_secrets_stay_masked_whichever_side_is_absent():
    state = _state_with({"default_attributes": {"db_password": "hunter2"}})
    observed = {"role.web": Observed(attributes={"path": "roles/role-web.json",
                                                 "document": {"default_attributes": {}}})}
    report = detect_drift(state, observed)
    for rendered in (drift_text(report, color=False), drift_markdown(report), drift_json(report)):
        assert "hunter2" not in rendered


def test_drift_of_an_ami_names_the_ami_found_instead_of_the_recorded_one():
    from infra.reconciler.refs import digest

    attributes = {"region": "us-east-1", "source_image": "ami-1ebb2077"}
    state = State(resources={"ami.web": ResourceState(kind="ami", group="web", attributes=attributes,
                                                      outputs={"image_id": "ami-0000new"})})
    older = Observed(attributes={"source_hash": "0ld"}, outputs={"image_id": "ami-0000old"})
    text = drift_text(detect_drift(state, {"ami.web": older}), color=False)
    assert 'ami.web: changed outside infra' in text and 'image_id: recorded "ami-0000new", actual "ami-0000old"' in text
    same = Observed(attributes={"source_hash": digest(attributes)}, outputs={"image_id": "ami-0000new"})
    assert not detect_drift(state, {"ami.web": same}).has_drift


def _deleted(kind: str, before: dict, action=None):
    from infra.reconciler.actions import ActionKind
    from infra.reconciler.plan import Action, Plan

    return Plan(actions=[Action(address=f"{kind}.web", kind=kind, group="web", action=action or ActionKind.DELETE,
                                before=before, reason="no longer in nodes.json")])


def test_a_deletion_names_what_goes_in_text_and_markdown():
    from infra.reconciler.actions import ActionKind

    cases = [
        (_deleted("ami", {"images": [{"id": "ami-0new", "name": "web-2", "snapshots": ["snap-1", "snap-2"]},
                                     {"id": "ami-0old", "name": "web-1", "snapshots": []}]}),
         ["AMI ami-0new (web-2) and its snapshot(s) snap-1, snap-2", "AMI ami-0old (web-1) (no snapshots)"]),
        (_deleted("asg", {"name": "web-1a2b", "instances": ["i-1", "i-2"]}),
         ["autoscaling group web-1a2b and its 2 instance(s): i-1, i-2"]),
        (_deleted("asg", {"name": "web-1a2b", "instances": ["i-1"], "max_size": 1}, ActionKind.REPLACE),
         ["autoscaling group web-1a2b and its 1 instance(s): i-1"]),
        (_deleted("instance", {"id": "i-0abc", "state": "running", "zone": "us-east-1a", "dna": "dna/web-i-0abc.json"}),
         ["instance i-0abc (running, us-east-1a)", "file dna/web-i-0abc.json"]),
        (_deleted("launch_template", {"name": "web", "id": "lt-1", "version": "3"}),
         ["launch template web (lt-1) and all its versions"]),
        (_deleted("role", {"path": "roles/role-web.json", "document": {}}), ["file roles/role-web.json"]),
    ]
    for the_plan, named in cases:
        text, markdown = plan_text(the_plan, color=False), plan_markdown(the_plan)
        for line in named:
            assert f"    - {line}\n" in text + "\n", text
            assert f"\n- {line}\n" in markdown, markdown


def test_markdown_shows_created_values_whole_while_text_cuts_them():
    long = "x" * 300
    the_plan = plan(graph(role(run_list=(f"recipe[{long}]",))), {}, State())
    assert long not in plan_text(the_plan, color=False) and "..." in plan_text(the_plan, color=False)
    assert long in plan_markdown(the_plan)


def _run_list_changed(before: list[str], after: list[str]):
    desired = graph(role(run_list=after))
    return plan(desired, {"role.web": Observed(attributes=dict(desired["role.web"].attributes,
                                                                 document={"run_list": before}))}, State())


def test_a_recipe_inserted_into_a_run_list_shows_as_an_insertion_everywhere():
    """recipe[x] goes in before d: the items after it shift, and none of them is shown as changed."""
    the_plan = _run_list_changed(["recipe[a]", "recipe[b]", "recipe[c]", "recipe[d]"],
                                 ["recipe[a]", "recipe[b]", "recipe[c]", "recipe[x]", "recipe[d]"])
    text = plan_text(the_plan, color=False)
    assert '    + document.run_list: "recipe[x]" (inserted at 3)' in text, text
    assert "(absent)" not in text and "run_list[3]" not in text
    assert '+ document.run_list: "recipe[x]" (inserted at 3)' in plan_markdown(the_plan)
    [change] = json.loads(plan_json(the_plan))["actions"][0]["changes"]
    assert (change["op"], change["index"], change["path"], change["after"]) == (
        "insert", 3, "document.run_list[3]", "recipe[x]")


def test_a_recipe_removed_from_a_run_list_and_one_replaced_show_as_such():
    the_plan = _run_list_changed(["recipe[a]", "recipe[b]", "recipe[c]", "recipe[d]"],
                                 ["recipe[a]", "recipe[c]", "recipe[D]"])
    text = plan_text(the_plan, color=False)
    assert '    - document.run_list: "recipe[b]" (removed from 1)' in text, text
    assert '    ~ document.run_list[3]: "recipe[d]" -> "recipe[D]"' in text, text
    assert '- document.run_list: "recipe[b]" (removed from 1)' in plan_markdown(the_plan)
    changes = json.loads(plan_json(the_plan))["actions"][0]["changes"]
    assert [(c["op"], c["index"], c["before"], c["after_absent"]) for c in changes] == [
        ("remove", 1, "recipe[b]", True), ("change", None, "recipe[d]", False)]


def test_drift_shows_an_item_added_to_a_list_by_hand_as_an_insertion():
    state = _state_with({"run_list": ["recipe[a]", "recipe[b]"]})
    observed = {"role.web": Observed(attributes={"path": "roles/role-web.json", "document": {
        "run_list": ["recipe[a]", "recipe[hand]", "recipe[b]"]}})}
    report = detect_drift(state, observed)
    assert 'document.run_list: "recipe[hand]" inserted at 1 (recorded: not there)' in drift_text(report, color=False)
    assert ('| `role.web` | `document.run_list` | (not there) | `"recipe[hand]"` (inserted at 1) |'
            in drift_markdown(report))
    [change] = json.loads(drift_json(report))["drifted"][0]["changes"]
    assert (change["op"], change["index"], change["actual"]) == ("insert", 1, "recipe[hand]")


def test_drift_holds_a_rolled_back_asg_only_while_it_runs_another_version_than_infra_applied():
    from infra.reconciler.drift import detect_drift
    from infra.reconciler.resources import Observed
    from infra.state.model import ResourceState, State

    state = State(resources={"asg.web": ResourceState(kind="asg", group="web", attributes={"name": "web-2"}),
                             "launch_template.web": ResourceState(kind="launch_template", group="web")})

    def held(running: str, left: str, applied: str) -> list[str]:
        observed = {"asg.web": Observed(attributes={"name": "web-2", "launch_template_version": running,
                                                    "rolled_back_from": left}),
                    "launch_template.web": Observed(outputs={"version": applied})}
        return [h.address for h in detect_drift(state, observed).held]

    assert held(running="1", left="2", applied="2") == ["asg.web"]  # rolled back from what nodes.json wants
    assert held(running="2", left="1", applied="2") == []  # the way back from a rollback: what nodes.json wants
