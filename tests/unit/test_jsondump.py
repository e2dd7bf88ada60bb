"""The fast indented writer says exactly what json.dumps(indent=2) says, for any JSON value."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.jsondump import dumps_indented

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_any_value_is_written_as_json_dumps_writes_it(value):
    assert dumps_indented(value) == json.dumps(value, indent=2)


def test_keys_that_are_not_strings_and_tuples_as_json_dumps_writes_them():
    value = {1: (1, 2.5), 2.5: [], False: {}, None: "é\u2028", "x": [None, {"y": -0.0}]}
    assert dumps_indented(value) == json.dumps(value, indent=2)


def test_subclasses_are_written_as_json_dumps_writes_them():
    class Name(str):
        pass

    value = {"a": [Name("x"), {"b": Name("y")}]}
    assert dumps_indented(value) == json.dumps(value, indent=2)


def test_what_json_cannot_hold_is_refused_as_json_dumps_refuses_it():
    with pytest.raises(TypeError):
        dumps_indented({"a": {1, 2}})
    with pytest.raises(TypeError):
        dumps_indented({(1, 2): "x"})


@settings(max_examples=100, deadline=None)
@given(VALUES)
def test_joining_the_pieces_as_it_goes_changes_nothing(value):
    import infra.jsondump

    chunk, infra.jsondump.CHUNK = infra.jsondump.CHUNK, 1
    try:
        assert dumps_indented(value) == json.dumps(value, indent=2)
    finally:
        infra.jsondump.CHUNK = chunk
