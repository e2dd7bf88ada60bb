"""JSON infra reads: only values it can write back, and every failure located."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.jsontext import JsonProblem, check, dotted, loads


def test_the_first_problem_in_file_order_is_named_by_its_keys():
    with pytest.raises(JsonProblem) as caught:
        check({"a": [1, {"b": float("nan")}], "c": float("inf")})
    assert caught.value.keys == ["a", 1, "b"] and "is NaN" in caught.value.message
    assert caught.value.at("x.json") == "x.json: at a[1].b"


def test_depth_counts_objects_and_lists():
    check({"a": [[1]]}, max_depth=3)
    with pytest.raises(JsonProblem, match="nested more than 2 levels") as caught:
        check({"a": [[1]]}, max_depth=2)
    assert caught.value.keys == ["a", 0]


def test_a_lone_surrogate_in_a_key_or_a_value_is_refused_and_a_pair_is_text():
    assert loads('{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001F600"}
    for text in ('{"\\udc00": 1}', '["\\ud800"]'):
        with pytest.raises(JsonProblem, match="lone UTF-16 surrogate"):
            loads(text)


def test_a_number_too_long_for_python_is_located_and_syntax_errors_stay_json_errors():
    with pytest.raises(JsonProblem) as caught:
        loads('{\n  "n": ' + "7" * 5000 + "}")
    assert (caught.value.line, caught.value.column) == (2, 8)
    with pytest.raises(json.JSONDecodeError):
        loads("{,}")


def test_long_paths_are_shortened_in_the_middle():
    assert dotted(["a", 0, "b"]) == "a[0].b"
    assert dotted(["x"] * 10) == "x.x.x.<4 more>.x.x.x"


# JSON texts with what `check` refuses sprinkled in: NaN, infinities, 1e999, lone and paired
# surrogate escapes (in keys and values), and nesting around the limit.
_scalars = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
                     st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", '"\\ud800"', '"\\ud83d\\ude00"',
                                      '"NaN"', '"\\\\ud800"']).map(lambda raw: _Raw(raw)))


class _Raw(str):
    """A token written into the text as it is."""


def _text(value, depth=0) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_text(_Raw(k)) if isinstance(k, _Raw) else json.dumps(k)}: {_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return json.dumps(value)


_documents = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=3), st.just(_Raw('"\\udc00"'))), inner,
                                                 max_size=3)), max_leaves=12)


def _outcome(read):
    try:
        return "read", read()
    except JsonProblem as exc:
        return "refused", (exc.message, exc.keys)


@given(_documents, st.integers(min_value=0, max_value=6), st.integers(min_value=1, max_value=8))
def test_loads_refuses_exactly_what_check_refuses_with_the_same_words(document, wrap, max_depth):
    text = "[" * wrap + _text(document) + "]" * wrap

    def slow():
        parsed = json.loads(text)
        check(parsed, max_depth=max_depth)
        return parsed

    fast, expected = _outcome(lambda: loads(text, max_depth=max_depth)), _outcome(slow)
    assert fast[0] == expected[0]
    if fast[0] == "refused":
        assert fast[1] == expected[1]
    else:
        assert json.dumps(fast[1]) == json.dumps(expected[1])
