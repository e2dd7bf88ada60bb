"""Secrets never leave infra's hands: no AWS credential reaches a file, a packer command line or the
output; secret attributes are masked in every output format. Against the moto server and the real
packer (wrapped by tests/support/packer_wrapper.py to record what it was given)."""

from __future__ import annotations

import json

from tests.cli_helpers import run_infra

BEE, WWW = "12_04-bee", "12_04-www"


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAFAILSUITE7Q2W9X",
               "AWS_SECRET_ACCESS_KEY": "fs/Secret+Key/9d8c7b6a5f4e3d2c1b0a",
               "AWS_SESSION_TOKEN": "FailSuiteSessionToken//0042"}
SECRETS = {"db_password": "pw-Hunter2-xyz", "api_token": "tok-7f3a9c-live"}
NESTED = {"mysql": {"user": "app", "secret": "shh-nested-value"}}


def test_no_credential_is_written_to_any_file_or_packers_command_line(control, ops_repo, monkeypatch, capsys):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    planned = run_infra(capsys, "plan", "--out", "example.plan")
    assert planned.code == 0, planned.err
    applied = run_infra(capsys, "apply", "example.plan")
    assert applied.code == 0, applied.err

    written = [p for p in ops_repo.rglob("*") if p.is_file()]
    names = {str(p.relative_to(ops_repo)) for p in written}
    assert {f"packer/{BEE}.json", f"packer/{WWW}.json", f"dna/asg/{BEE}.json", f"roles/role-{BEE}.json",
            "example.plan", ".infra/state.json", ".infra/state.json.backup"} <= names
    seen_by_packer = sorted(control.glob("template-*.json")) + sorted(control.glob("args-*.txt"))
    assert len(seen_by_packer) == 4  # the temporary templates packer built from, and its command lines
    for path in written + seen_by_packer:
        text = path.read_text()
        for name, value in CREDENTIALS.items():
            assert value not in text, f"{name} written to {path}"
    for value in CREDENTIALS.values():
        assert value not in planned.out + planned.err + applied.out + applied.err


def test_secret_attributes_are_masked_in_plan_drift_show_and_state_show(aws, ops_repo, capsys):
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[WWW]["packer"] = False  # no AMI needed to show masking
    nodes[WWW]["default_attributes"] = {**SECRETS, **NESTED}
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    values = [*SECRETS.values(), NESTED["mysql"]["secret"]]

    def shows_no_secret(*args: str) -> str:
        result = run_infra(capsys, *args)
        assert result.code in (0, 2), result.err
        for value in values + ["pw-changed-by-hand"]:
            assert value not in result.out + result.err, f"infra {' '.join(args)} shows {value}"
        return result.out

    for output in ("text", "json", "markdown"):
        shows_no_secret("plan", WWW, "--output", output)
    assert "(sensitive)" in shows_no_secret("plan", WWW, "--output", "json")
    for output in ("text", "json"):
        assert "(sensitive)" in shows_no_secret("show", WWW, "--output", output)
    assert json.loads(shows_no_secret("show", WWW, "-o", "json"))["default_attributes"] == {
        "environment": "production", "key": "value", "db_password": "(sensitive)", "api_token": "(sensitive)",
        "mysql": {"user": "app", "secret": "(sensitive)"}}

    assert run_infra(capsys, "apply", "--auto-approve", WWW).code == 0
    role = ops_repo / "roles" / f"role-{WWW}.json"
    document = json.loads(role.read_text())
    assert document["default_attributes"]["db_password"] == SECRETS["db_password"]  # chef needs it (docs/state.md)
    document["default_attributes"]["db_password"] = "pw-changed-by-hand"
    role.write_text(json.dumps(document))
    for output in ("text", "json", "markdown"):
        drifted = shows_no_secret("drift", WWW, "--output", output)
        assert "db_password" in drifted and "(sensitive)" in drifted
    assert "(sensitive)" in shows_no_secret("plan", WWW)
    assert "(sensitive)" in shows_no_secret("state", "show", f"role.{WWW}")
