"""Short texts of AWS's answers and of rendered templates are held once (infra/shared_texts.py), and
what is remembered for that stays bounded, for a watch loop that reads new ids for ever."""

from __future__ import annotations

import json
import uuid

from infra.config.loader import parse_config
from infra.reconciler.graph import Scope, packer_template
from infra.shared_texts import SHARED_AT_MOST, SHARED_LENGTH, shared_text


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


def test_the_packer_templates_of_two_groups_hold_their_common_keys_and_short_texts_once(tmp_path):
    config = parse_config(json.dumps({"__base__": {"instance_type": "m5.large", "source_ami": "ami-0123abcd"},
                                      "web": {}, "api": {}}), "nodes.json")
    scope = Scope.of("acme", None)
    web, api = (packer_template(config.groups[name], tmp_path, scope) for name in ("web", "api"))
    builder = {"web": web["builders"][0], "api": api["builders"][0]}
    assert builder["web"]["instance_type"] is builder["api"]["instance_type"] == "m5.large"
    key = next(k for k in builder["web"] if k == "instance_type")
    assert key is next(k for k in builder["api"] if k == "instance_type")
    assert builder["web"]["tags"]["group"] == "web" and builder["api"]["tags"]["group"] == "api"
    assert web is not api and builder["web"] is not builder["api"]  # containers are each template's own
