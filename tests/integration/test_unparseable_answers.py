"""An AWS answer boto3 cannot parse (moto's XML for a value holding a NUL; a broken proxy) is one
line naming the call, never "unexpected ResponseParserError" and raw XML."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import run_infra

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"], "packer": False,
        "autoscale": {"node_min": 0, "node_max": 1}}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "nodes.json").write_text(json.dumps({"__settings__": {"project": "acme-ops"}, "__base__": BASE,
                                                     "web": {}}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve"), ("drift",)])
def test_an_answer_that_cannot_be_parsed_is_one_named_line(proxy, repo, capsys, command):
    if command == ("drift",):
        assert run_infra(capsys, "apply", "--auto-approve").code == 0  # something to compare
    proxy.garble_next(100)
    result = run_infra(capsys, *command)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "unexpected" not in result.err and "<Reserv" not in result.err, result.err
    assert "AWS sent an answer infra cannot read (response (not well-formed (invalid token): line 1, column 31))" \
        in lines[0], lines[0]
