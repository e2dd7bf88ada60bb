"""The state holds the desired graph's values, and the outputs observed, where they are equal as JSON:
one copy in memory, the same state written."""

from infra.reconciler.graph import Graph, topological
from infra.reconciler.resources import Observed, Resource
from infra.reconciler.shared_values import share_observed, share_recorded
from infra.state.model import ResourceState, State


def _role(debug) -> dict:
    return {"path": "roles/role-web.json", "document": {"name": "role-web", "default_attributes": {"debug": debug}}}


def _template(image_id: str) -> dict:
    return {"region": "us-east-1", "image_id": image_id, "user_data": "#!/bin/sh\n", "tags": {"group": "web"}}


def _state(**attributes: dict) -> State:
    return State(resources={f"{kind}.web": ResourceState(kind=kind, group="web", attributes=value,
                                                         outputs={"id": "lt-1"} if kind == "launch_template" else {})
                            for kind, value in attributes.items()})


def test_equal_attributes_are_the_desired_ones_and_the_state_written_is_the_same():
    desired = Graph(topological([
        Resource(kind="role", group="web", attributes=_role(True)),
        Resource(kind="launch_template", group="web", attributes=_template("${ami.web.image_id}"))]))
    state = _state(role=_role(True), launch_template=_template("ami-12345678"))
    written = state.to_json()
    share_recorded(desired, state)
    role, template = state.resources["role.web"], state.resources["launch_template.web"]
    assert role.attributes is desired.resources["role.web"].attributes
    wanted = desired.resources["launch_template.web"].attributes
    assert template.attributes["tags"] is wanted["tags"] and template.attributes["user_data"] is wanted["user_data"]
    assert template.attributes["image_id"] == "ami-12345678"  # what was applied, not the reference
    assert state.to_json() == written
    assert State.from_json(written, "state.json") == state


def test_a_value_equal_only_to_python_is_kept_as_recorded():
    desired = Graph(topological([Resource(kind="role", group="web", attributes=_role(True))]))
    state = _state(role=_role(1))
    share_recorded(desired, state)
    assert state.resources["role.web"].attributes["document"]["default_attributes"]["debug"] == 1
    assert type(state.resources["role.web"].attributes["document"]["default_attributes"]["debug"]) is int


def test_equal_outputs_are_the_observed_ones_and_others_are_kept_as_recorded():
    state = State(resources={
        "launch_template.web": ResourceState(kind="launch_template", group="web", outputs={"id": "lt-1", "version": 2}),
        "launch_template.api": ResourceState(kind="launch_template", group="api", outputs={"id": "lt-2", "version": 1}),
        "asg.web": ResourceState(kind="asg", group="web", outputs={"name": "web-1"})})
    written = state.to_json()
    found = {"launch_template.web": Observed.of({}, {"id": "lt-1", "version": 2}),
             "launch_template.api": Observed.of({}, {"id": "lt-2", "version": True})}  # equal to Python only
    share_observed(found, state)
    assert state.resources["launch_template.web"].outputs is found["launch_template.web"].outputs
    assert state.resources["launch_template.api"].outputs == {"id": "lt-2", "version": 1}
    assert type(state.resources["launch_template.api"].outputs["version"]) is int
    assert state.resources["asg.web"].outputs == {"name": "web-1"}  # not found: as recorded
    assert state.to_json() == written
