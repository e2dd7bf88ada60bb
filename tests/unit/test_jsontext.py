"""JSON infra reads: only values it can write back, and every failure located."""

import json

import pytest

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
