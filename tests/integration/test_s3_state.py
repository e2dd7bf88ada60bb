"""Team state on moto: the S3 object with history, the DynamoDB lock, unlock, and migration."""

import json

import boto3
import pytest

from tests.cli_helpers import run_infra

LOCAL_ONLY = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": False}


@pytest.fixture
def team_repo(aws, tmp_path, monkeypatch):
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=aws)
    s3.create_bucket(Bucket="ops-state")
    s3.put_bucket_versioning(Bucket="ops-state", VersioningConfiguration={"Status": "Enabled"})
    boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws).create_table(
        TableName="infra-locks", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
    config = {"__settings__": {"state": {"backend": "s3", "bucket": "ops-state", "key": "prod/state.json",
                                         "lock_table": "infra-locks"}},
              "__base__": LOCAL_ONLY, "web": {}, "api": {}}
    (tmp_path / "nodes.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    return s3


def test_apply_keeps_state_in_s3_with_history(team_repo, tmp_path, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    first = json.loads(team_repo.get_object(Bucket="ops-state", Key="prod/state.json")["Body"].read())
    assert set(first["resources"]) == {"role.web", "role.api"}
    config = json.loads((tmp_path / "nodes.json").read_text())
    config["web"]["description"] = "the frontend"
    (tmp_path / "nodes.json").write_text(json.dumps(config))
    assert run_infra(capsys, "apply", "--auto-approve").code == 0

    state = json.loads(team_repo.get_object(Bucket="ops-state", Key="prod/state.json")["Body"].read())
    assert state["serial"] > first["serial"] and state["lineage"] == first["lineage"]
    versions = team_repo.list_object_versions(Bucket="ops-state", Prefix="prod/state.json")["Versions"]
    assert len(versions) == state["serial"]  # every write is a version: the history
    serials = sorted(json.loads(team_repo.get_object(Bucket="ops-state", Key="prod/state.json",
                                                     VersionId=v["VersionId"])["Body"].read())["serial"]
                     for v in versions)
    assert serials == list(range(1, state["serial"] + 1))  # every earlier state can be read back
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_a_held_lock_is_refused_naming_the_holder_and_can_be_forced_open(team_repo, capsys):
    from infra.config import load_config
    from infra.state.lock import LockInfo
    from infra.state.s3 import S3Backend
    from infra.workspace import AwsOptions

    backend = S3Backend(load_config("nodes.json").settings.state, AwsOptions())
    holder = LockInfo(operation="apply", who="alice@ci")
    backend.acquire(holder)
    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "locked by alice@ci" in refused.err and holder.id in refused.err
    wrong = run_infra(capsys, "state", "unlock", "not-the-id")
    assert wrong.code == 1 and "does not match" in wrong.err
    assert run_infra(capsys, "state", "unlock", holder.id).code == 0
    assert run_infra(capsys, "apply", "--auto-approve").code == 0


def test_push_migrates_a_local_state_and_pull_reads_it_back(team_repo, tmp_path, capsys):
    config = json.loads((tmp_path / "nodes.json").read_text())
    settings = config.pop("__settings__")
    (tmp_path / "nodes.json").write_text(json.dumps(config))
    assert run_infra(capsys, "apply", "--auto-approve").code == 0  # local state first
    local = json.loads((tmp_path / ".infra" / "state.json").read_text())

    (tmp_path / "nodes.json").write_text(json.dumps({**config, "__settings__": settings}))
    assert run_infra(capsys, "state", "push", ".infra/state.json").code == 0
    pulled = json.loads(run_infra(capsys, "state", "pull").out)
    assert pulled["lineage"] == local["lineage"] and pulled["resources"] == local["resources"]
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
    older = run_infra(capsys, "state", "push", ".infra/state.json")
    assert older.code == 1 and "newer" in older.err


def test_missing_backend_settings_are_a_clear_error(aws, tmp_path, monkeypatch, capsys):
    (tmp_path / "nodes.json").write_text(json.dumps({"__settings__": {"state": {"backend": "s3", "bucket": "b"}},
                                                     "__base__": LOCAL_ONLY, "web": {}}))
    monkeypatch.chdir(tmp_path)
    result = run_infra(capsys, "plan")
    assert result.code == 1 and "__settings__: key 'state': the s3 backend needs lock_table" in result.err
