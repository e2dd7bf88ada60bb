"""A corpus of malformed nodes.json files: each gives one clear error line and writes nothing."""

import json

import pytest

from tests.cli_helpers import run_infra

BASE = '"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"}'

CORPUS = {
    "empty file": ("", "nodes.json:1:1: invalid JSON"),
    "not an object": ("[]", "the top level must be an object"),
    "single quotes": ("{" + BASE + ",\n 'web': {}}", "nodes.json:2:2: invalid JSON"),
    "trailing comma": ("{" + BASE + ",\n}", "is there a trailing comma?"),
    "unclosed": ("{" + BASE, "invalid JSON"),
    "comment": ("{" + BASE + ", // web\n}", "invalid JSON"),
    "duplicate group": ("{" + BASE + ',\n"web": {},\n"web": {}}', "nodes.json:3:1: key 'web' appears twice"),
    "unknown key": ("{" + BASE + ',\n"web": {"instance_tpye": "m1.small"}}', "did you mean 'instance_type'?"),
    "unknown top-level dunder": ("{" + BASE + ',\n"__defaults__": {}}', "unknown top-level key '__defaults__'"),
    "unknown settings key": ('{"__settings__": {"sate": {}}, ' + BASE + "}", "__settings__: unknown key 'sate'"),
    "wrong type list": ("{" + BASE + ',\n"web": {"run_list": "recipe[a]"}}', "key 'run_list': should be a valid list"),
    "wrong type number": ("{" + BASE + ',\n"web": {"ami_keep": "ten"}}', "key 'ami_keep'"),
    "negative size": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": -1}}}', "autoscale.node_min"),
    "min above max": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": 4, "node_max": 2}}}', "node_min (4) is larger"),
    "desired outside": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": 1, "node_max": 2, "desired": 5}}}',
                        "desired (5) is outside"),
    "huge size": ("{" + BASE + ',\n"web": {"autoscale": {"node_max": ' + "9" * 40 + '}}}',
                  "key 'autoscale.node_max': should be less than or equal to 10000"),
    "day-long roll timeout exceeded": ("{" + BASE + ',\n"web": {"autoscale": {"timeout": 100000}}}',
                                       "key 'autoscale.timeout': should be less than or equal to 86400"),
    "bad region": ("{" + BASE + ',\n"web": {"region": "us east"}}', "'us east' is not an AWS region name"),
    "empty zone": ("{" + BASE + ',\n"web": {"autoscale": {"zones": [""]}}}', "key 'autoscale.zones.0'"),
    "empty security group": ("{" + BASE + ',\n"web": {"security_groups": [""]}}', "key 'security_groups.0'"),
    "bad name space": ("{" + BASE + ',\n"web server": {}}', "can't be used by AWS or Chef"),
    "bad name slash": ("{" + BASE + ',\n"web/1": {}}', "can't be used by AWS or Chef"),
    "bad name too long": ("{" + BASE + ',\n"' + "w" * 65 + '": {}}', "is 65 characters; at most 64, because it names "
                                                                  "the group's AMIs"),
    "name with a final newline": ("{" + BASE + ',\n"web\\n": {}}', "group name 'web\\n' can't be used"),
    "region with a final newline": ("{" + BASE + ',\n"web": {"region": "us-east-1\\n"}}',
                                    "'us-east-1\\n' is not an AWS region name"),
    "ami with a final newline": ("{" + BASE + ',\n"web": {"source_ami": "ami-1ebb2077\\n"}}', "neither an AMI id"),
    "run list item with a final newline": ("{" + BASE + ',\n"web": {"run_list": ["recipe[a]\\n"]}}',
                                           "is not a run-list item"),
    "bad run list item": ("{" + BASE + ',\n"web": {"run_list": ["recipe[]"]}}', "is not a run-list item"),
    "bad ami": ("{" + BASE + ',\n"web": {"source_ami": "ubuntu-22.04"}}', "neither an AMI id"),
    "missing instance type": ('{"__base__": {"source_ami": "ami-1ebb2077"}, "web": {}}', "has no 'instance_type'"),
    "unknown source group": ("{" + BASE + ',\n"web": {"source_ami": "@bsae"}, "base": {}}', "did you mean 'base'?"),
    "unknown source further down a chain": ("{" + BASE + ',\n"a": {"source_ami": "@b"}, "b": {"source_ami": "@x"}}',
                                            "group 'b': source_ami @x: unknown group 'x'"),
    "source in another region": ("{" + BASE + ',\n"base": {}, "api": {"source_ami": "@base", "region": "eu-west-1"}}',
                                 "group 'base' builds in us-east-1, 'api' in eu-west-1"),
    "self source": ("{" + BASE + ',\n"web": {"source_ami": "@web"}}', "cycle: web -> web"),
    "source cycle": ("{" + BASE + ',\n"a": {"source_ami": "@b"}, "b": {"source_ami": "@c"}, "c": {"source_ami": "@a"}}',
                     "cycle: a -> b -> c -> a"),
    "unknown service": ("{" + BASE + ',\n"web": {"depends_on": ["api"]}}', "depends_on 'api', which no group"),
    "deeply nested": ('{"__base__": {"default_attributes": ' + "[" * 50000 + "]" * 50000 + "}}", "nested too deeply"),
    "autoscale true": ("{" + BASE + ',\n"web": {"autoscale": true}}', "true is not enough"),
    "base not object": ('{"__base__": [], "web": {}}', "__base__ must be an object"),
    "infra's own tag": ("{" + BASE + ',\n"web": {"tags": {"team": "a",\n "infra:protect": "false"}}}',
                        "nodes.json:3:2: group 'web': key 'tags.infra:protect': infra sets this tag itself"),
    "group tag": ("{" + BASE + ',\n"web": {"tags": {"group": "other"}}}', "key 'tags.group': infra sets this tag"),
    "protect as a string": ("{" + BASE + ',\n"web": {"protect": "yes"}}',
                            "nodes.json:2:9: group 'web': key 'protect': should be a valid boolean, got 'yes'"),
    "packer as a string": ("{" + BASE + ',\n"web": {"packer": "false"}}', "key 'packer': should be a valid boolean"),
    "size as a string": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": "2"}}}',
                         "nodes.json:2:23: group 'web': key 'autoscale.node_min': should be a valid integer, got '2'"),
    "keep as a boolean": ("{" + BASE + ',\n"web": {"ami_keep": true}}', "key 'ami_keep': should be a valid integer"),
    "tag value as a number": ("{" + BASE + ',\n"web": {"tags": {"team": 7}}}', "key 'tags.team': should be a valid string"),
    "aws tag": ("{" + BASE + ',\n"web": {"tags": {"aws:x": "y"}}}', "key 'tags.aws:x': aws: tag keys are AWS's own"),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_bad_file_gives_one_clear_line_and_writes_nothing(name, tmp_path, monkeypatch, capsys):
    text, expected = CORPUS[name]
    (tmp_path / "nodes.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = run_infra(capsys, "role:create")
    assert result.code == 1
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert expected in result.err
    assert "Traceback" not in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nodes.json"]


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    path = tmp_path / "nodes.json"
    with path.open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)
    monkeypatch.chdir(tmp_path)
    result = run_infra(capsys, "validate")
    assert result.code == 1 and "larger than 64 MiB" in result.err


def test_not_utf8_is_a_clear_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "nodes.json").write_bytes(b'{"web": "\xff"}')
    monkeypatch.chdir(tmp_path)
    result = run_infra(capsys, "validate")
    assert result.code == 1 and "is not UTF-8" in result.err


def test_many_groups_are_fine(tmp_path, monkeypatch, capsys):
    config = {"__base__": json.loads("{" + BASE + "}")["__base__"], **{f"g{i}": {} for i in range(500)}}
    (tmp_path / "nodes.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    assert "500 group(s)" in run_infra(capsys, "validate").out


GOOD = "{" + BASE + ',\n"api": {"packer": false, "run_list": ["recipe[acme-service::api]"]},\n' \
                   '"web": {"packer": false, "depends_on": ["api"]}}'
# Command-line values that name files, registry keys or AWS resources: each is refused in one
# line before anything is written or asked (an unreachable etcd, so nothing could be anyway).
ARGUMENTS = {
    "watch node that climbs out": (["services:watch", "web", "--node", "../../../../x", "--exec", "true", "--once",
                                    "--etcd", "http://127.0.0.1:9"], "node id '../../../../x' can't be used"),
    "watch node of dots": (["services:watch", "web", "--node", "..", "--exec", "true", "--once",
                            "--etcd", "http://127.0.0.1:9"], "node id '..' can't be used"),
    "notify node with a final newline": (["services:notify", "api", "--node", "n1\n", "--address", "10.0.0.1",
                                          "--etcd", "http://127.0.0.1:9"], "node id 'n1\\n' can't be used"),
    "instance name with a final newline": (["instance:create", "web", "--key", "k.pem", "--name", "web-1\n"],
                                           "--name 'web-1\\n': use 1-64 letters"),
    "region option with a final newline": (["--region", "us-east-1\n", "plan"], "'us-east-1\\n' is not an AWS region"),
    "packer:delete of a path": (["packer:delete", "../nodes"], "group name '../nodes' can't be used"),
}


@pytest.mark.parametrize("name", list(ARGUMENTS))
def test_each_bad_argument_gives_one_clear_line_and_writes_nothing(name, tmp_path, monkeypatch, capsys):
    args, expected = ARGUMENTS[name]
    repository = tmp_path / "ops"
    repository.mkdir()
    (repository / "nodes.json").write_text(GOOD)
    monkeypatch.chdir(repository)
    result = run_infra(capsys, *args)
    assert result.code == 1
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert expected in result.err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["nodes.json", "ops"]
