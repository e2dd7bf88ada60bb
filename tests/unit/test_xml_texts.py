"""Short texts of AWS's answers are held once (infra/aws/xml_answers.py, shared_text), and what is
remembered for that stays bounded, for a watch loop that reads new ids for ever."""

from __future__ import annotations

import uuid

from infra.aws.xml_answers import SHARED_AT_MOST, SHARED_LENGTH, shared_text


def fresh(text: str) -> str:
    return "".join(list(text))  # an equal string that is a new object, as each XML element's text is


def test_equal_short_texts_are_one_object_and_long_ones_are_left_as_they_are():
    text = f"group-{uuid.uuid4().hex[:12]}"  # never read before in this process
    first, again = fresh(text), fresh(text)
    assert first is not again and shared_text(first) is shared_text(again) is first
    long = "arn:aws:autoscaling:us-east-1:123456789012:" + "x" * SHARED_LENGTH
    copy = fresh(long)
    assert shared_text(copy) is copy and shared_text(fresh(long)) is not copy


def test_what_is_remembered_is_forgotten_once_there_is_too_much_of_it():
    text = f"group-{uuid.uuid4().hex[:12]}"
    kept = shared_text(fresh(text))
    for n in range(SHARED_AT_MOST + 1):
        shared_text(f"id-{n}")
    later = fresh(text)
    assert shared_text(later) is later and later is not kept  # forgotten: held anew
