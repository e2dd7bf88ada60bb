"""The plan document (docs/plan-json.md): action names, values unknown until apply, masking, and
reading a saved plan back as the plan it was. Pure: plans come from the planner, no server."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.errors import InfraError
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action, AttributeChange, Plan
from infra.reconciler.plan_json import (
    FORMAT_VERSION,
    document_text,
    dump_plan,
    known,
    plan_document,
    read_plan,
    unknown,
)
from infra.reconciler.planner import plan
from infra.reconciler.refs import ref
from infra.reconciler.render import masked, plan_json
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State
from tests.support.plan_schema import schema_errors
from tests.unit.test_planner import ami, asg, graph, launch_template, role, seen


def _every_kind_of_action():
    """One plan holding every action name: a create, a build, an update with a value unknown until
    apply, a replace, a delete and a noop."""
    r, a, lt, group = role(), ami(template="t2"), launch_template(instance_type="m3.large"), asg()
    gone = Resource(kind="role", group="old", attributes={"path": "roles/role-old.json", "document": {}})
    observed = {
        "role.web": seen(r),
        "launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                        outputs={"id": "lt-1", "version": "1"}),
        "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "1", "name": "web-1"},
                            outputs={"name": "web-1"}),
        "role.old": seen(gone),
    }
    state = State(resources={"ami.web": ResourceState(kind="ami", group="web", attributes=ami(template="t1").attributes,
                                                      outputs={"image_id": "ami-0000aaaa"}),
                             "role.old": ResourceState(kind="role", group="old", attributes=gone.attributes)})
    return plan(graph(r, a, lt, group, role("db")), observed, state)


def test_the_document_names_every_action_and_validates_against_the_schema():
    the_plan = _every_kind_of_action()
    document = plan_document(the_plan)
    assert {a["address"]: a["action"] for a in document["actions"]} == {
        "role.web": "noop", "ami.web": "build", "launch_template.web": "update", "asg.web": "replace",
        "role.db": "create", "role.old": "delete"}
    assert document["format_version"] == FORMAT_VERSION and document["masked"] is False
    assert document["summary"] == {"add": 2, "change": 1, "destroy": 2, "build": 1, "adopt": 0, "refresh": 0,
                                   "promote": 0}
    assert schema_errors(document) == []


def test_values_unknown_until_apply_are_null_and_marked_by_the_output_they_come_from():
    actions = {a["address"]: a for a in plan_document(_every_kind_of_action())["actions"]}
    template = actions["launch_template.web"]
    assert template["after"]["image_id"] is None
    assert template["after_unknown"] == {"image_id": "ami.web.image_id"}
    [image_change] = [c for c in template["changes"] if c["path"] == "image_id"]
    assert (image_change["before"], image_change["after"], image_change["after_unknown"]) == (
        "ami-0000aaaa", None, "ami.web.image_id")
    assert actions["asg.web"]["after_unknown"] == {"launch_template_version": "launch_template.web.version"}
    assert actions["role.db"]["after_unknown"] == {} and actions["role.old"]["after"] is None


def test_unknown_values_inside_lists_and_maps_keep_their_place():
    value = {"a": [1, ref("ami.web", "image_id")], "b": {"c": ref("launch_template.web", "id"), "d": 2}, "e": 3}
    assert known(value) == {"a": [1, None], "b": {"c": None, "d": 2}, "e": 3}
    assert unknown(value) == {"a": [False, "ami.web.image_id"], "b": {"c": "launch_template.web.id"}}
    assert unknown({"e": 3}) is None


def test_a_saved_plan_reads_back_as_the_plan_it_was_references_and_all():
    the_plan = _every_kind_of_action()
    again = read_plan(dump_plan(the_plan), "tf.plan")
    assert again == the_plan
    template = next(a for a in again.actions if a.address == "launch_template.web")
    assert template.after["image_id"] == "${ami.web.image_id}" and template.action is ActionKind.UPDATE


def test_printed_json_masks_secrets_says_so_and_is_otherwise_the_saved_document():
    secret = Resource(kind="role", group="web", attributes={"path": "roles/role-web.json",
                                                            "document": {"db_password": "hunter2"}})
    the_plan = plan(graph(secret), {}, State())
    printed = json.loads(plan_json(the_plan))
    assert "hunter2" not in json.dumps(printed) and printed["masked"] is True
    assert schema_errors(printed) == []
    with pytest.raises(InfraError, match="its secret values are masked"):
        read_plan(json.dumps(printed), "printed.json")
    plain = plan(graph(role()), {}, State())
    assert json.loads(plan_json(plain)) == json.loads(dump_plan(plain)) == plan_document(plain, mask=masked)


@pytest.mark.parametrize("document, error", [
    ({"format_version": "3.0", "actions": []},
     f"plan format 3.0 is newer than this infra understands ({FORMAT_VERSION})"),
    ({"format": 1, "actions": []}, f"plan format 1 is not one this infra understands ({FORMAT_VERSION}); plan again"),
    ({"format_version": "2.0", "actions": [{"address": "role.web", "action": "+"}]}, "unknown action '+'"),
    ({"format_version": "2.0"}, "not a plan file made by infra plan --out"),
    ([1, 2], "not a plan file made by infra plan --out"),
])
def test_other_formats_are_refused_in_one_line(document, error):
    with pytest.raises(InfraError) as raised:
        read_plan(json.dumps(document), "tf.plan")
    assert error in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).startswith("tf.plan: ")


def test_a_minor_version_may_add_properties_the_reader_ignores():
    document = plan_document(plan(graph(role()), {}, State()))
    document.update(format_version="2.7", later=["something new"])
    document["actions"][0]["later"] = {"x": 1}
    assert read_plan(json.dumps(document), "tf.plan").actions[0].address == "role.web"
    assert schema_errors(document) == []


def test_adoptions_and_notices_are_in_the_document_and_read_back():
    from tests.unit.test_planner_ownership import fleet, legacy_fleet, theirs

    adopting = plan(fleet(), {"role.web": seen(role())}, State(), unowned=legacy_fleet(), adopt=True)
    document = plan_document(adopting)
    assert {a["action"] for a in document["actions"]} == {"noop", "adopt"} and document["summary"]["adopt"] == 3
    noticing = plan(fleet(), {"role.web": seen(role())}, State(), unowned=[theirs("asg.web")])
    noticed = plan_document(noticing)
    assert [(n["address"], n["owner"], n["blocking"]) for n in noticed["notices"]] == [("asg.web", "other-ops", False)]
    for the_plan, its_document in ((adopting, document), (noticing, noticed)):
        assert schema_errors(its_document) == []
        assert read_plan(dump_plan(the_plan), "tf.plan") == the_plan


def test_a_plan_that_cleans_up_after_a_killed_build_validates():
    """A killed packer build leaves an instance and a key pair named `infra.<project>.<group>.<uuid>`:
    the plan deletes both, and its kind and its dotted address are the schema's."""
    pair = "infra.ops.web.6a1f0c2e-2f0b-4a8e-9d6f-0b1c2d3e4f50"
    observed = {
        f"build_leftover.web.{pair}": Observed(attributes={"region": "us-east-1", "key_pair": pair}),
        "build_leftover.web.i-0123456789abcdef0": Observed(attributes={
            "region": "us-east-1", "instance": "i-0123456789abcdef0", "key_pair": "packer_65f2", "security_groups": [],
            "state": "running", "images": []}),
    }
    document = plan_document(plan(graph(role()), observed, State()))
    assert {a["address"]: (a["kind"], a["action"]) for a in document["actions"] if a["kind"] != "role"} == {
        f"build_leftover.web.{pair}": ("build_leftover", "delete"),
        "build_leftover.web.i-0123456789abcdef0": ("build_leftover", "delete")}
    assert schema_errors(document) == []


def test_the_suite_catches_a_plan_that_breaks_the_schema(_plan_watch):
    """tests/conftest.py holds every plan the suite makes to the schema: one that breaks it is caught."""
    from infra.reconciler import plan_json as module
    from infra.reconciler.plan import Action, Plan

    module.plan_document(Plan(actions=[Action(address="Not An Address", kind="role", group="web",
                                              action=ActionKind.NOOP)]))
    [(source, errors)] = _plan_watch.take()
    assert source == "plan_document" and errors[0].startswith("actions/0/address: 'Not An Address' does not match")


def test_the_schema_names_every_kind_infra_plans():
    from infra.reconciler.kinds import KINDS
    from tests.support.plan_schema import plan_schema

    assert set(plan_schema()["$defs"]["action"]["properties"]["kind"]["enum"]) == set(KINDS)


@pytest.mark.parametrize("mask", [None, masked], ids=["saved", "printed"])
def test_the_document_is_written_as_json_dumps_writes_it_action_by_action(mask):
    for the_plan in (_every_kind_of_action(), plan(graph(), {}, State())):  # and a plan of no actions
        assert document_text(the_plan, mask=mask) == json.dumps(plan_document(the_plan, mask=mask), indent=2)


def test_printed_json_masks_secrets_inside_strings_as_every_format_does():
    secret = Resource(kind="role", group="web", attributes={"path": "roles/role-web.json", "document": {
        "dsn": "host=db user=app password=hunter2 port=5432", "url": "http://admin:hunter2@db:5432/app"}})
    printed = json.loads(plan_json(plan(graph(secret), {}, State())))
    assert "hunter2" not in json.dumps(printed) and printed["masked"] is True
    assert printed["actions"][0]["after"]["document"]["dsn"] == "host=db user=app password=(sensitive) port=5432"


_WORDS = st.sampled_from(["web", "password", "ssl", "key", "token", "${ami.web.image_id}", "a=b", "password=hunter2",
                          "http://admin:pw@host/x", "(sensitive)"])
_VALUES = st.recursive(st.none() | st.integers() | _WORDS | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_WORDS | st.text(max_size=6), inner,
                                                                                  max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_WORDS, _VALUES, max_size=4))
def test_a_printed_value_is_the_value_masked_and_its_references_null(document):
    the_plan = plan(graph(Resource(kind="role", group="web", attributes={"document": document})), {}, State())
    printed = plan_document(the_plan, mask=masked)
    assert printed["actions"][0]["after"] == {"document": known(masked(document, "document"))}
    assert printed["masked"] == (known(masked(document, "document")) != known(document))


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                     | _WORDS | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_WORDS | st.text(max_size=6), inner,
                                                                                 max_size=4), max_leaves=20)
# Half of these also of types pydantic writes its own way: a tuple, NaN, a key that is not a string.
_ANY = _JSON | st.recursive(st.floats() | st.tuples(_WORDS) | _JSON, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(_WORDS | st.integers(), inner, max_size=3), max_leaves=10)
_PATHS = st.sampled_from(["", "document", "document.ssl.key", "users[0].password", "api", "token", "tags.db"])
_CHANGES = st.builds(AttributeChange, path=_PATHS, before=_ANY, after=_JSON, before_absent=st.booleans(),
                     after_absent=st.booleans(), op=st.sampled_from(["change", "insert", "remove"]),
                     index=st.none() | st.integers(0, 5))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Action.planned, address=_WORDS, kind=st.sampled_from(["role", "asg", "ami"]), group=_WORDS,
                          action=st.sampled_from(list(ActionKind)), after=st.none() | st.dictionaries(_WORDS, _JSON),
                          before=st.none() | st.dictionaries(_WORDS, _JSON), changes=st.lists(_CHANGES, max_size=3),
                          reason=_WORDS, depends_on=st.lists(_WORDS, max_size=2), protect=st.booleans(),
                          outputs=st.dictionaries(_WORDS, _ANY, max_size=2)), max_size=3),
       st.sampled_from([None, masked]))
def test_any_action_is_written_as_its_document_dumped(_plan_watch, actions, mask):
    """Printed and saved plans write each action in one walk, or as pydantic dumps it when it holds a
    value of another type than JSON's own (a tuple, NaN, a key that is not a string): the same text."""
    the_plan = Plan(actions=actions)
    assert document_text(the_plan, mask=mask) == json.dumps(plan_document(the_plan, mask=mask), indent=2)
    _plan_watch.take()  # made-up actions (addresses, paths), not the planner's: the schema is not the point
