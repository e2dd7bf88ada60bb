"""What plan and drift reports show for a change: no server, only the pure diff and renderers."""

import json

from infra.reconciler.drift import detect_drift
from infra.reconciler.planner import plan
from infra.reconciler.render import drift_json, drift_markdown, drift_text, plan_json, plan_text
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
