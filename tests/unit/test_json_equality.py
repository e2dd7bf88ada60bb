"""Equal means equal as JSON: Python's `1 == True == 1.0` must not hide a change to a Chef attribute."""

import json

from hypothesis import given
from hypothesis import strategies as st

from infra.fsutil import atomic_write_json
from infra.providers.files import FilesProvider
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import attribute_changes, same
from infra.reconciler.graph import Graph, topological
from infra.reconciler.planner import plan
from infra.reconciler.render import plan_text
from infra.reconciler.resources import Resource
from infra.state.model import State

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, -1.0, 2.5]),
                    st.sampled_from(["", "1", "true", "a"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
                      max_leaves=12)


@given(values, values)
def test_same_is_equality_of_the_json_texts(a, b):
    assert same(a, b) == (json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True))


def test_a_number_changed_to_a_boolean_or_a_float_is_a_change():
    for before, after in ((1, True), (0, False), (1, 1.0), (True, 1.0)):
        changes = attribute_changes({"document": {"app": {"workers": before}}},
                                    {"document": {"app": {"workers": after}}})
        assert [(c.path, c.before, c.after) for c in changes] == [("document.app.workers", before, after)]
        assert type(changes[0].after) is type(after)
    assert attribute_changes({"size": 1}, {"size": True})[0].after is True
    assert attribute_changes({"document": {"a": [1, {"b": 2}]}}, {"document": {"a": [1, {"b": 2}]}}) == []


def test_a_role_attribute_changed_from_1_to_true_is_planned(tmp_path):
    path = "roles/role-web.json"
    atomic_write_json(tmp_path / path, {"name": "role-web", "default_attributes": {"app": {"debug": 1}}})
    wanted = Resource(kind="role", group="web", attributes={
        "path": path, "document": {"name": "role-web", "default_attributes": {"app": {"debug": True}}}})
    observed = FilesProvider(tmp_path).observe([wanted]).found
    result = plan(Graph(topological([wanted])), observed, State())
    [action] = result.actions
    assert action.action is ActionKind.UPDATE
    assert "document.default_attributes.app.debug: 1 -> true" in plan_text(result, color=False)
