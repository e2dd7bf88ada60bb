"""nodes.json's traffic keys: `autoscale.target_groups` and `autoscale.rollout`, strict and located."""

import json

import pytest

from infra.config import parse_config
from infra.errors import ConfigError
from infra.reconciler.graph import desired_graph


def nodes(**autoscale) -> dict:
    return {"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"},
            "web": {"autoscale": {"node_min": 4, "node_max": 4, **autoscale}}}


def parse(document: dict):
    return parse_config(json.dumps(document, indent=2), "nodes.json")


def error_of(document: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(document)
    return str(caught.value)


def test_target_groups_and_a_rollout_become_the_asgs_attributes():
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067"
    config = parse(nodes(target_groups=["web-tg", arn], rollout={"canary": "25%", "bake": 300,
                                                                 "alarms": ["web-5xx"]}))
    attributes = desired_graph(config)["asg.web"].attributes
    assert attributes["target_groups"] == ["web-tg", arn]
    assert attributes["health_check_type"] == "ELB"  # behind target groups, their checks say who serves
    assert attributes["rollout"] == {"canary": "25%", "bake": 300, "alarms": ["web-5xx"], "min_healthy_percent": 100}


def test_without_them_nothing_changes():
    attributes = desired_graph(parse(nodes()))["asg.web"].attributes
    assert (attributes["target_groups"], attributes["rollout"], attributes["health_check_type"]) == ([], None, "EC2")
    explicit = desired_graph(parse(nodes(target_groups=["web-tg"], health_check_type="EC2")))["asg.web"]
    assert explicit.attributes["health_check_type"] == "EC2"


@pytest.mark.parametrize("autoscale, said", [
    ({"target_groups": ["web_tg"]}, "key 'autoscale.target_groups.0': 'web_tg' is neither a target group name"),
    ({"target_groups": ["a" * 33]}, "is neither a target group name (1-32 letters"),
    ({"rollout": {"canary": "250%"}}, "key 'autoscale.rollout.canary': '250%' is not a share of the desired capacity"),
    ({"rollout": {"canary": 0}}, "a canary of 0 instances; give 1 to 10,000"),
    ({"rollout": {"canary": True}}, "key 'autoscale.rollout.canary': should be a count (1) or a share of desired "
                                    "(\"25%\"), got true"),
    ({"rollout": {"bake": "300"}}, "key 'autoscale.rollout.bake': should be a valid integer, got '300'"),
    ({"rollout": {"min_healthy_percent": 0}}, "key 'autoscale.rollout.min_healthy_percent'"),
    ({"rollout": {"alarm": ["web-5xx"]}}, "unknown key 'autoscale.rollout.alarm'; did you mean 'alarms'?"),
])
def test_bad_values_are_located_errors(autoscale, said):
    message = error_of(nodes(**autoscale))
    assert message.startswith("nodes.json:") and "group 'web'" in message and said in message, message


def test_an_error_found_later_points_where_the_group_or_base_sets_the_key(tmp_path):
    from infra.config import load_config

    document = nodes(target_groups=["web-tg"])
    document["__base__"]["autoscale"] = {"target_groups": ["base-tg"]}
    document["api"] = {"autoscale": {"node_min": 1}}
    (tmp_path / "nodes.json").write_text(json.dumps(document, indent=2))
    config = load_config(tmp_path / "nodes.json")
    lines = (tmp_path / "nodes.json").read_text().splitlines()
    web = str(config.error_at("web", ["autoscale", "target_groups"], "no target group web-tg in us-east-1"))
    line = int(web.split(":")[1])
    assert "web-tg" in lines[line - 1] or "web-tg" in lines[line]
    assert web.endswith(": no target group web-tg in us-east-1")
    api = str(config.error_at("api", ["autoscale", "target_groups"], "inherited"))
    line = int(api.split(":")[1])
    assert '"target_groups"' in lines[line - 1] and line < lines.index('  "web": {') + 1  # in __base__
