"""A corpus of malformed nodes.json files: each gives one clear error line and writes nothing."""

import errno
import json
import os
import signal

import pytest

from infra import fsutil
from infra.state.model import STATE_FORMAT
from tests.cli_helpers import run_infra

BASE = '"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"}'

CORPUS = {
    "empty file": ("", "nodes.json:1:1: invalid JSON"),
    "not an object": ("[]", "the top level must be an object"),
    "single quotes": ("{" + BASE + ",\n 'web': {}}", "nodes.json:2:2: invalid JSON"),
    "trailing comma": ("{" + BASE + ",\n}", "is there a trailing comma?"),
    "a comment": ("{" + BASE + ",\n  // the web tier\n\"web\": {}}", "nodes.json:2:3: invalid JSON: Expecting property "
                  "name enclosed in double quotes (JSON has no comments"),
    "no closing brace": ("{" + BASE + ',\n"web": {}\n', "(the file ends too soon: is a closing '}' or ']' missing?)"),
    "a missing comma is not called a trailing one": ("{" + BASE + ',\n"web": {} "db": {}}',
                                                     "invalid JSON: Expecting ',' delimiter\n"),
    "unclosed": ("{" + BASE, "invalid JSON"),
    "comment": ("{" + BASE + ", // web\n}", "invalid JSON"),
    "duplicate group": ("{" + BASE + ',\n"web": {},\n"web": {}}', "nodes.json:3:1: key 'web' appears twice"),
    "unknown key": ("{" + BASE + ',\n"web": {"instance_tpye": "m1.small"}}', "did you mean 'instance_type'?"),
    "unknown top-level dunder": ("{" + BASE + ',\n"__defaults__": {}}', "unknown top-level key '__defaults__'"),
    "unknown settings key": ('{"__settings__": {"sate": {}}, ' + BASE + "}", "__settings__: unknown key 'sate'"),
    "wrong type list": ("{" + BASE + ',\n"web": {"run_list": "recipe[a]"}}', "key 'run_list': should be a valid list"),
    "wrong type number": ("{" + BASE + ',\n"web": {"ami_keep": "ten"}}', "key 'ami_keep'"),
    "negative size": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": -1}}}', "autoscale.node_min"),
    "min above max": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": 4, "node_max": 2}}}',
                      "node_min (4) is larger"),
    "desired outside": ("{" + BASE + ',\n"web": {"autoscale": {"node_min": 1, "node_max": 2, "desired": 5}}}',
                        "desired (5) is outside"),
    "huge size": ("{" + BASE + ',\n"web": {"autoscale": {"node_max": ' + "9" * 40 + '}}}',
                  "key 'autoscale.node_max': should be less than or equal to 10000"),
    "day-long roll timeout exceeded": ("{" + BASE + ',\n"web": {"autoscale": {"timeout": 100000}}}',
                                       "key 'autoscale.timeout': should be less than or equal to 86400"),
    "bad region": ("{" + BASE + ',\n"web": {"region": "us east"}}', "'us east' is not an AWS region name"),
    "region AWS does not have": ("{" + BASE + ',\n"web": {"region": "eu-wset-1"}}',
                                 "'eu-wset-1' is not an AWS region (botocore"),
    "empty zone": ("{" + BASE + ',\n"web": {"autoscale": {"zones": [""]}}}', "key 'autoscale.zones.0'"),
    "empty security group": ("{" + BASE + ',\n"web": {"security_groups": [""]}}', "key 'security_groups.0'"),
    "bad name space": ("{" + BASE + ',\n"web server": {}}', "can't be used by AWS or Chef"),
    "bad name slash": ("{" + BASE + ',\n"web/1": {}}', "can't be used by AWS or Chef"),
    "bad name too long": ("{" + BASE + ',\n"' + "w" * 65 + '": {}}', "is 65 characters; at most 64, because it names "
                                                                  "the group's AMIs"),
    # Every string that reaches AWS, packer or a file name is refused centrally, naming the key (config/printable.py).
    "name with a final newline": ("{" + BASE + ',\n"web\\n": {}}',
                                  "group 'web\\n': the key holds U+000A (a control character) at position 3"),
    "region with a final newline": ("{" + BASE + ',\n"web": {"region": "us-east-1\\n"}}',
                                    "group 'web': key 'region': its value holds U+000A"),
    "ami with a final newline": ("{" + BASE + ',\n"web": {"source_ami": "ami-1ebb2077\\n"}}',
                                 "group 'web': key 'source_ami': its value holds U+000A"),
    "run list item with a final newline": ("{" + BASE + ',\n"web": {"run_list": ["recipe[a]\\n"]}}',
                                           "group 'web': key 'run_list[0]': its value holds U+000A"),
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
    "lone surrogate": ("{" + BASE + ',\n"web": {"description": "\\ud800"}}',
                       "nodes.json:2:9: group 'web': key 'description': holds a lone UTF-16 surrogate"),
    "lone surrogate in a key": ("{" + BASE + ',\n"web": {"default_attributes": {"\\udc00": 1}}}',
                                "key 'default_attributes.\\udc00': holds a lone UTF-16 surrogate"),
    "NaN": ("{" + BASE + ',\n"web": {"default_attributes": {"ratio": NaN}}}',
            "nodes.json:2:32: group 'web': key 'default_attributes.ratio': is NaN, which is not a JSON number"),
    "Infinity": ("{" + BASE + ',\n"web": {"default_attributes": {"x": [1, -Infinity]}}}',
                 "key 'default_attributes.x[1]': is Infinity"),
    "a number that is infinity": ("{" + BASE + ',\n"web": {"default_attributes": {"x": 1e999}}}', "is Infinity"),
    "5000-digit integer": ("{" + BASE + ',\n"web": {"ami_keep": ' + "1" * 5000 + "}}",
                           "nodes.json:2:21: a number has more than 4300 digits"),
    "attributes 900 deep": ("{" + BASE + ',\n"web": {"default_attributes": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}}",
                            "group 'web': key 'default_attributes.a.a.<"),
    "state path outside": ('{"__settings__": {"state": {"path": "../shared/state.json"}}, ' + BASE + "}",
                           "__settings__: key 'state.path': '../shared/state.json' is outside the repository"),
    "state path absolute": ('{"__settings__": {"state": {"path": "/var/lib/state.json"}}, ' + BASE + "}",
                            "key 'state.path': '/var/lib/state.json' is outside the repository"),
    "more tags than AWS allows": ('{"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", '
                                  '"tags": {"cost": "1"}},\n"web": {"tags": {'
                                  + ", ".join(f'"t{i}": "v"' for i in range(43)) + "}}}",
                                  "nodes.json:2:9: group 'web': key 'tags': 44 tags (with __base__'s); at most 43: "
                                  "AWS takes 50 on a resource and infra sets 7 of its own"),
    "tag key too long": ("{" + BASE + ',\n"web": {"tags": {"' + "k" * 129 + '": "v"}}}',
                         "a tag key is 1 to 128 characters in AWS, this one 129"),
    "tag value too long": ("{" + BASE + ',\n"web": {"tags": {"k": "' + "v" * 257 + '"}}}',
                           "key 'tags.k': a tag value is at most 256 characters in AWS, this one 257"),
    "tag key packer would evaluate": ("{" + BASE + ',\n"web": {"tags": {"a{{b": "v"}}}',
                                      "key 'tags.a{{b': packer reads '{{' in a tag key as the start of an expression"),
    "s3 without a bucket": ('{"__settings__": {"state": {"backend": "s3", "lock_table": "locks"}}, ' + BASE + "}",
                            "nodes.json:1:19: __settings__: key 'state': the s3 backend needs bucket"),
    "s3 with an empty bucket": ('{"__settings__": {"state": {"backend": "s3", "bucket": ""}}, ' + BASE + "}",
                                "key 'state.bucket': bucket '' is not an S3 bucket name"),
    "request rate of zero": ('{"__settings__": {"max_request_rate": 0}, ' + BASE + "}", "max_request_rate"),
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
    "tag value as a number": ("{" + BASE + ',\n"web": {"tags": {"team": 7}}}',
                              "key 'tags.team': should be a valid string"),
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


GOOD = '{"__settings__": {"project": "ops"}, ' + BASE + ',\n' \
       '"api": {"packer": false, "run_list": ["recipe[acme-service::api]"]},\n' \
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
    "region option AWS does not have": (["--region", "us-east-9", "plan"], "did you mean 'us-east-2'?"),
    "packer:delete of a path": (["packer:delete", "../nodes"], "group name '../nodes' can't be used"),
    "endpoint with a password": (["--endpoint-url", "http://admin:SECRETPW@127.0.0.1:9", "packer:clean", "-n", "1"],
                                 "cannot reach AWS at http://127.0.0.1:9: nothing listens there"),
    "endpoint with a password and a bad port": (["--endpoint-url", "http://admin:SECRETPW@127.0.0.1:99999", "plan"],
                                                "endpoint 'http://127.0.0.1:99999'"),
    "etcd with a password": (["services:list", "--etcd", "http://admin:SECRETPW@127.0.0.1:9"],
                             "cannot reach etcd at http://127.0.0.1:9"),
    "etcd URL with a password that is no etcd URL": (["services:list", "--etcd", "ftp://admin:SECRETPW@h"],
                                                      "--etcd 'ftp://h' is not an etcd URL"),
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
    assert expected in result.err and "SECRETPW" not in result.err
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if not p.is_dir()] == ["ops/nodes.json"]


def _state(**fields) -> str:
    state = {"format": STATE_FORMAT, "lineage": "6f1c", "serial": 3, "resources": {}}
    return json.dumps({**state, **fields})


# A damaged state: each is one line naming the state file, and nothing is written.
STATES = {
    "binary": (b"\x00\xff\x10", "state.json: is not UTF-8 text (invalid start byte at byte 1)"),
    "latin-1": ('{"format": 1, "lineage": "caf\xe9"}'.encode("latin-1"), "state.json: is not UTF-8 text"),
    "format as a string": (_state(format="2").encode(), 'state.json: state format "2" is not a format number'),
    "format as a float": (_state(format=999.0).encode(), "state.json: state format 999.0 is not a format number"),
    "format as a boolean": (_state(format=True).encode(), "state format true is not a format number"),
    "newer format": (_state(format=STATE_FORMAT + 1).encode(),
                     f"state format {STATE_FORMAT + 1} is newer than this infra understands"),
    "5000-digit serial": (_state(serial=0).replace('"serial": 0', '"serial": ' + "9" * 5000).encode(),
                          "state.json:1:44: a number has more than 4300 digits: the state is damaged"),
    "NaN": (_state().replace('"serial": 3', '"serial": NaN').encode(), "state.json: at serial: is NaN"),
    "lone surrogate": (_state(lineage="\ud800").encode(), "state.json: at lineage: holds a lone UTF-16 surrogate"),
    "nested 900 deep": (_state().replace('{}', '{"a": ' * 900 + "1" + "}" * 900).encode(),
                        "state.json: at resources.a.a.<"),
    "nested beyond the parser": (_state().replace('{}', "[" * 50000 + "]" * 50000).encode(),
                                 "state.json: is nested too deeply"),
}


@pytest.mark.parametrize("name", list(STATES))
def test_each_damaged_state_gives_one_line_naming_it_and_writes_nothing(name, tmp_path, monkeypatch, capsys):
    data, expected = STATES[name]
    (tmp_path / "nodes.json").write_text(GOOD)
    (tmp_path / ".infra").mkdir()
    (tmp_path / ".infra" / "state.json").write_bytes(data)
    monkeypatch.chdir(tmp_path)
    for command in (["plan"], ["apply", "--auto-approve"], ["state", "push", ".infra/state.json"]):
        result = run_infra(capsys, *command)
        assert result.code == 1 and result.err.count("\n") == 1, result.err
        assert expected in result.err and "unexpected" not in result.err
    assert (tmp_path / ".infra" / "state.json").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [".infra", "nodes.json"]


@pytest.mark.parametrize("path", ["../VICTIM.txt", "ABSOLUTE"])
def test_a_state_entry_never_deletes_a_file_outside_the_repository(path, tmp_path, monkeypatch, capsys):
    repository = tmp_path / "ops"
    (repository / ".infra").mkdir(parents=True)
    victim = tmp_path / "VICTIM.txt"
    victim.write_text("keep me")
    path = str(victim) if path == "ABSOLUTE" else path
    entry = {"kind": "dna", "group": "gone", "attributes": {"path": path, "document": {}}}
    (repository / "nodes.json").write_text(GOOD)
    (repository / ".infra" / "state.json").write_text(_state(resources={"dna.gone": entry}))
    monkeypatch.chdir(repository)
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run_infra(capsys, *command)
        assert result.code == 1 and result.err.count("\n") == 1, result.err
        assert f"dna.gone: {path!r} is outside the repository" in result.err
        assert "infra state rm dna.gone" in result.err
    assert victim.read_text() == "keep me"


# Files infra reads that are not what they should be: one line naming the file.
FILES = {
    "role file in latin-1": ("roles/role-web.json", '{"description": "caf\xe9"}'.encode("latin-1"),
                             ["role:update"], "roles/role-web.json: is not UTF-8 text"),
    "binary packer template": ("packer/web.json", b"\x00\xff", ["packer:create"], "packer/web.json: is not UTF-8 text"),
    "user template in latin-1": ("templates/packer.json.j2", "{# caf\xe9 #}".encode("latin-1"), ["packer:create"],
                                 "templates/packer.json.j2: is not UTF-8 text"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_each_bad_file_infra_reads_gives_one_line_naming_it(name, tmp_path, monkeypatch, capsys):
    path, data, command, expected = FILES[name]
    (tmp_path / "nodes.json").write_text("{" + BASE + ',\n"web": {}}')
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    result = run_infra(capsys, *command)
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert expected in result.err and "unexpected" not in result.err
    assert (tmp_path / path).read_bytes() == data


@pytest.fixture
def never_hangs():
    """A read that blocks (a FIFO with no writer) is interrupted, so a regression fails instead of hanging."""
    def interrupt(signum, frame):
        raise TimeoutError("blocked reading")
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind, expected", [
    ("fifo", "nodes.json: is a FIFO, not a regular file; infra reads nodes.json only from one"),
    ("device", "/dev/null: is a device, not a regular file"),  # /dev/zero would read until memory runs out
    ("directory", "nodes.json: is a directory, not a regular file"),
    ("dangling link", "nodes.json: is a symbolic link to gone.json, which does not exist"),
])
def test_nodes_json_that_is_no_regular_file_is_refused_at_once(kind, expected, tmp_path, monkeypatch, capsys,
                                                              never_hangs):
    monkeypatch.chdir(tmp_path)
    config = "nodes.json"
    if kind == "fifo":
        os.mkfifo("nodes.json")
    elif kind == "device":
        config = "/dev/null"
    elif kind == "directory":
        os.mkdir("nodes.json")
    else:
        os.symlink("gone.json", "nodes.json")
    result = run_infra(capsys, "--config", config, "validate")
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert expected in result.err


def test_a_full_disk_names_the_file_it_could_not_write(tmp_path, monkeypatch, capsys):
    """A write of a temp file fails with no name (errno 28 from write(2)); the error names the state."""
    real = fsutil._write_temp

    def full_for_state(path, text, **options):
        if path.name == "state.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text, **options)

    (tmp_path / "nodes.json").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fsutil, "_write_temp", full_for_state)
    result = run_infra(capsys, "apply", "--auto-approve")
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"error: {tmp_path / '.infra' / 'state.json'}: No space left on device; free some "
                                 f"space and run the command again")
    assert not (tmp_path / ".infra" / "state.lock").exists()
