"""nodes.json: the seed's example, merge results, and every kind of bad input with its located error."""

import json
from pathlib import Path

import pytest

from infra.config import load_config, parse_config
from infra.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "nodes.json"
SEED_ROLE_RUN_LIST = [
    "recipe[seatgeek::base-server]",
    "recipe[seatgeek::collect-services]",
    "recipe[seatgeek::decommission-services]",
    "recipe[seatgeek-service::api-workers]",
    "recipe[seatgeek-service::cronq-workers]",
    "recipe[seatgeek-service::djjob]",
    "recipe[seatgeek::notify-services]",
    "recipe[sudo::default]",
]


def base(**extra):
    return {"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", **extra}}


def parse(document) -> object:
    return parse_config(json.dumps(document, indent=2), "nodes.json")


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "nodes.json")
    return str(caught.value)


def test_the_example_merges_like_the_seed_says():
    config = load_config(EXAMPLE)
    bee = config.group("12_04-bee")
    assert bee.security_groups == ["external", "internal", "bee"]
    assert bee.default_attributes == {"environment": "production", "key": "value", "other_key": "value"}
    assert bee.role_run_list == SEED_ROLE_RUN_LIST
    assert bee.autoscale is not None and (bee.autoscale.node_min, bee.autoscale.node_max) == (2, 2)
    assert bee.services == ["api-workers", "cronq-workers", "djjob"]
    www = config.group("12_04-www")
    assert www.autoscale is None and www.instance_type == "m3.xlarge"
    assert list(config.groups) == ["12_04-bee", "12_04-www"]


def test_post_run_list_goes_after_the_groups_run_list_and_repeats_go():
    config = parse({**base(run_list=["recipe[a]"], post_run_list=["recipe[z]"]),
                    "g": {"run_list": ["recipe[b]", "recipe[a::default]"], "post_run_list": ["recipe[y]"]}})
    assert config.group("g").role_run_list == ["recipe[a::default]", "recipe[b::default]", "recipe[z::default]",
                                               "recipe[y::default]"]


def test_a_group_may_turn_autoscale_off_again():
    config = parse({**base(autoscale={"node_min": 1, "node_max": 3}), "on": {}, "off": {"autoscale": False}})
    assert config.group("on").autoscale.node_max == 3
    assert config.group("off").autoscale is None


def test_the_seeds_own_single_quotes_are_reported_at_their_line():
    text = EXAMPLE.read_text().replace('"12_04-bee-ec2 instance, responsible for worker processes"',
                                       "'12_04-bee-ec2 instance, responsible for worker processes'")
    line = next(i for i, text_line in enumerate(text.splitlines(), 1) if "'12_04-bee-ec2" in text_line)
    message = error_of(text)
    assert message.startswith(f"nodes.json:{line}:")
    assert "double quotes" in message


def test_trailing_comma_reports_line_and_column():
    message = error_of('{\n  "__base__": {"instance_type": "x",}\n}')
    assert message.startswith("nodes.json:2:") and "trailing comma" in message


@pytest.mark.parametrize("document, expected", [
    ({**base(), "web": {"instance_typ": "m1.small"}}, "unknown key 'instance_typ'; did you mean 'instance_type'?"),
    ({**base(), "web": {"autoscale": {"node_mn": 1}}}, "did you mean 'node_min'?"),
    ({**base(regon="x"), "web": {}}, "__base__: unknown key 'regon'; did you mean 'region'?"),
    ({**base(), "__bsae__": {}}, "did you mean '__base__'?"),
    ({**base(), "web": {"name": "other"}}, "group 'web': unknown key 'name'"),  # a group's name is its key
    ({**base(name="x"), "web": {}}, "__base__: unknown key 'name'"),
])
def test_unknown_keys_suggest_the_closest_known_key(document, expected):
    assert expected in error_of(json.dumps(document, indent=2))


def test_unknown_key_is_located_at_its_line():
    text = json.dumps({**base(), "web": {"run_list": [], "instance_typ": "m1.small"}}, indent=2)
    line = next(i for i, text_line in enumerate(text.splitlines(), 1) if '"instance_typ"' in text_line)
    assert error_of(text).startswith(f"nodes.json:{line}:")


@pytest.mark.parametrize("document, expected", [
    ({**base(), "web": {"security_groups": "web"}}, "group 'web': key 'security_groups': should be a valid list"),
    ({**base(), "web": {"autoscale": {"node_min": "two"}}}, "key 'autoscale.node_min'"),
    ({**base(), "web": {"autoscale": {"node_min": 3, "node_max": 2}}}, "node_min (3) is larger than node_max (2)"),
    ({**base(), "web": {"autoscale": True}}, "true is not enough"),
    ({**base(), "web": {"run_list": ["recipe[a b]"]}}, "is not a run-list item"),
    ({**base(), "web": {"source_ami": "ubuntu"}}, "neither an AMI id"),
    ({**base(), "web": "m1.large"}, "group 'web' must be an object"),
    ({**base(), "web.prod": {}}, "can't be used by AWS or Chef"),
    ({**base(), "web prod": {}}, "can't be used by AWS or Chef"),
    ({"__base__": {"source_ami": "ami-1ebb2077"}, "web": {}}, "group 'web' has no 'instance_type'"),
    ([1, 2], "the top level must be an object"),
])
def test_bad_values_name_the_group_and_key(document, expected):
    assert expected in error_of(json.dumps(document, indent=2))


def test_source_group_references_must_exist_and_not_cycle():
    assert "did you mean 'base'?" in error_of(json.dumps({**base(), "base": {}, "web": {"source_ami": "@bsae"}}))
    cycle = error_of(json.dumps({**base(), "a": {"source_ami": "@b"}, "b": {"source_ami": "@a"}}))
    assert "cycle: a -> b -> a" in cycle


def test_depends_on_must_name_a_provided_service():
    document = {**base(), "api": {"run_list": ["recipe[x-service::api]"]}, "web": {"depends_on": ["apii"]}}
    assert "depends_on 'apii', which no group's run list provides (services: api)" in error_of(json.dumps(document))
    ok = parse({**base(), "api": {"run_list": ["recipe[x-service::api]"]}, "web": {"depends_on": ["api"]}})
    assert ok.providers_of("api") == ["api"]


def test_duplicate_keys_are_an_error_not_silently_dropped():
    message = error_of('{\n "__base__": {},\n "web": {},\n "web": {}\n}')
    assert message.startswith("nodes.json:4:") and "appears twice" in message


def test_deeply_nested_input_is_a_clear_error():
    assert "nested too deeply" in error_of("[" * 100000 + "]" * 100000)


def test_a_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nodes.json")
    assert f"no nodes.json in {tmp_path}" in str(caught.value)


def test_unknown_group_suggests_a_close_one():
    with pytest.raises(ConfigError, match="did you mean '12_04-bee'"):
        load_config(EXAMPLE).group("12_04-be")


def test_sizes_may_come_half_from_base_and_are_judged_once_merged():
    """__base__ sets node_max for the fleet, a group its own node_min: lists and objects merge."""
    base = '"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "autoscale": {"node_max": %d}}'
    merged = parse_config("{" + base % 10 + ', "web": {"autoscale": {"node_min": 5}}}').group("web").autoscale
    assert (merged.node_min, merged.node_max) == (5, 10)
    with pytest.raises(ConfigError,
                       match=r"group 'web': key 'autoscale': node_min \(5\) is larger than node_max \(3\)"):
        parse_config("{" + base % 3 + ', "web": {"autoscale": {"node_min": 5}}}')


@pytest.mark.parametrize("text, where, said", [
    ('{"__base__": {"instance_type": "m1.large\\u0000", "source_ami": "ami-1"}, "web": {}}', "1:15",
     "__base__: key 'instance_type': its value holds U+0000 (a control character) at position 8"),
    ('{"__base__": {"instance_type": "m1.large", "source_ami": "ami-1"},\n "web": {"security_groups": ["a\\tb"]}}',
     "2:10", "group 'web': key 'security_groups[0]': its value holds U+0009 (a control character) at position 1"),
    ('{"__base__": {"instance_type": "m1.large", "source_ami": "ami-1"}, "we\\u2028b": {}}', "1:68",
     "group 'we\\u2028b': the key holds U+2028 (LINE SEPARATOR) at position 2"),
    ('{"__base__": {"instance_type": "m1.large", "source_ami": "ami-1", "description": "x\\u200by"}, "web": {}}',
     "1:67", "__base__: key 'description': its value holds U+200B (ZERO WIDTH SPACE) at position 1"),
    # Written as they are, not escaped: the text's one look (ASCII, no escape, no DEL) must not pass them.
    ('{"__base__": {"instance_type": "m1.large\x7f", "source_ami": "ami-1"}, "web": {}}', "1:15",
     "__base__: key 'instance_type': its value holds U+007F (a control character) at position 8"),
    ('{"__base__": {"instance_type": "m1.large", "source_ami": "ami-1", "description": "x\u2028y"}, "web": {}}',
     "1:67", "__base__: key 'description': its value holds U+2028 (LINE SEPARATOR) at position 1"),
])
def test_an_unprintable_character_is_refused_where_it_is_naming_the_key(text, where, said):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "nodes.json")
    message = str(caught.value)
    assert message.startswith(f"nodes.json:{where}: ") and said in message, message
    assert "\n" not in message and "reach AWS, packer or a file name" in message


def test_chef_attributes_may_hold_any_text():
    config = parse({**base(default_attributes={"motd": "line one\nline two\t\u0007"}), "web": {}})
    assert config.group("web").default_attributes["motd"].endswith("\u0007")
