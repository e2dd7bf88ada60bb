"""Going back to earlier inputs reuses the AMI built from them, when it still exists. No I/O."""

from infra.reconciler.actions import ActionKind
from infra.reconciler.drift import detect_drift
from infra.reconciler.planner import plan
from infra.reconciler.refs import digest
from infra.reconciler.resources import Observed
from infra.state.model import ResourceState, State
from tests.unit.test_planner import ami, built, graph, kinds, launch_template, role, seen


def _observed_after_going_back():
    """web's newest AMI was built from template t2, an earlier one (still there) from t1."""
    earlier = built(ami(template="t1"), "ami-0000old1")
    newest = built(ami(template="t2"), "ami-0000new2").model_copy(
        update={"earlier": {digest(ami(template="t1").attributes): earlier}})
    return {"role.web": seen(role()), "ami.web": newest,
            "launch_template.web": Observed(attributes={"image_id": "ami-0000new2", "instance_type": "m1.large"},
                                            outputs={"id": "lt-1", "version": 2})}


def test_reverting_to_earlier_inputs_reuses_their_ami_instead_of_building_again():
    result = plan(graph(role(), ami(template="t1"), launch_template()), _observed_after_going_back(), State())
    by = {a.address: a for a in result.actions}
    assert kinds(result)["ami.web"] is ActionKind.NOOP
    assert by["ami.web"].outputs["image_id"] == "ami-0000old1"
    assert "reuses ami-0000old1, an earlier build of them" in by["ami.web"].reason
    assert by["launch_template.web"].action is ActionKind.UPDATE  # moves to the AMI reused
    assert [(c.path, c.before, c.after) for c in by["launch_template.web"].changes] == \
        [("image_id", "ami-0000new2", "ami-0000old1")]


def test_inputs_no_ami_was_built_from_still_build():
    result = plan(graph(role(), ami(template="t3"), launch_template()), _observed_after_going_back(), State())
    assert kinds(result)["ami.web"] is ActionKind.BUILD


def test_a_tag_change_of_a_reused_ami_tags_that_one():
    wanted = ami(template="t1").model_copy(update={"attributes": {**ami(template="t1").attributes,
                                                                  "tags": {"team": "core"}}})
    result = plan(graph(role(), wanted, launch_template()), _observed_after_going_back(), State())
    by = {a.address: a for a in result.actions}
    assert by["ami.web"].action is ActionKind.UPDATE and by["ami.web"].outputs["image_id"] == "ami-0000old1"
    assert by["launch_template.web"].after["image_id"] == "ami-0000old1"


def test_drift_takes_the_reused_ami_for_what_was_applied():
    attributes = ami(template="t1").attributes
    state = State(resources={"ami.web": ResourceState(kind="ami", group="web", attributes=attributes,
                                                      outputs={"image_id": "ami-0000old1"})})
    assert not detect_drift(state, {"ami.web": _observed_after_going_back()["ami.web"]}).has_drift
