"""Team state on moto: the S3 object with history, its two locks (a lock object written with a
conditional put, which the sandbox's moto decides in one step as S3 does; a DynamoDB item), unlock,
and migration."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import botocore.exceptions
import pytest

from infra.sandbox.launcher import MotoServer
from tests.cli_helpers import run_infra
from tests.integration.test_failures import amis_per_group, two_applies_at_once

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
    from infra.aws.access import AwsOptions
    from infra.config import load_config
    from infra.state.lock import LockInfo
    from infra.state.s3 import S3Backend

    backend = S3Backend(load_config("nodes.json").settings.state, AwsOptions())
    holder = LockInfo(operation="apply", who="alice@ci")
    backend.acquire(holder)
    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "locked by alice@ci" in refused.err and holder.id in refused.err
    wrong = run_infra(capsys, "state", "unlock", "not-the-id")
    assert wrong.code == 1 and "does not match" in wrong.err
    assert run_infra(capsys, "state", "unlock", holder.id, "--force").code == 0
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


def test_drift_against_an_empty_backend_exits_1_saying_where_it_looked(team_repo, tmp_path, capsys):
    """A drift job whose backend points at the wrong key (a typo, a moved state) must not stay green."""
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert run_infra(capsys, "drift").code == 0
    config = json.loads((tmp_path / "nodes.json").read_text())
    config["__settings__"]["state"]["key"] = "prod/stat.json"
    (tmp_path / "nodes.json").write_text(json.dumps(config))
    looked = run_infra(capsys, "drift", "--output", "markdown")
    assert looked.code == 1 and looked.out == ""
    assert looked.err.strip() == ("error: no state at s3://ops-state/prod/stat.json: nothing was ever applied there, "
                                  "so there is nothing to compare; check __settings__.state in nodes.json, or pass "
                                  "--allow-empty in a repository where nothing was applied yet")
    assert run_infra(capsys, "drift", "--allow-empty").code == 0


def test_missing_backend_settings_are_a_clear_error(aws, tmp_path, monkeypatch, capsys):
    (tmp_path / "nodes.json").write_text(json.dumps({"__settings__": {"state": {"backend": "s3"}},
                                                     "__base__": LOCAL_ONLY, "web": {}}))
    monkeypatch.chdir(tmp_path)
    result = run_infra(capsys, "plan")
    assert result.code == 1 and "__settings__: key 'state': the s3 backend needs bucket" in result.err


# -- S3 lock files: no DynamoDB table ------------------------------------------------------------------

LOCK = "prod/state.json.lock"


def s3_state(repo, endpoint_url: str, **state) -> object:
    """Point `repo`'s nodes.json at a fresh versioned bucket, without a lock table unless given one."""
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint_url)
    s3.create_bucket(Bucket="ops-state")
    s3.put_bucket_versioning(Bucket="ops-state", VersioningConfiguration={"Status": "Enabled"})
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["__settings__"] = {"state": {"backend": "s3", "bucket": "ops-state", "key": "prod/state.json", **state}}
    (repo / "nodes.json").write_text(json.dumps(nodes))
    return s3


def lock_object(s3) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket="ops-state", Key=LOCK)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def test_two_applies_at_once_on_s3_lock_files_one_wins_and_the_other_is_refused_naming_it(
        control, ops_repo, aws, ec2, tmp_path_factory, capsys):
    s3 = s3_state(ops_repo, aws)
    with two_applies_at_once(control, ops_repo, tmp_path_factory.mktemp("logs")) as (winner, refused):
        held = lock_object(s3)
        assert held["pid"] == winner.pid and held["operation"] == "apply" and refused.count("error:") == 1
        assert (f"error: state s3://ops-state/prod/state.json is locked by {held['who']} (pid {winner.pid}) "
                f"since {held['created']} for apply, lock id {held['id']}; if that process is gone, run: infra "
                f"state unlock {held['id']}") in refused
    assert lock_object(s3) is None  # released
    assert amis_per_group(ec2) == {"12_04-bee": 1, "12_04-www": 1}
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
    assert not boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws).list_tables()["TableNames"]


def test_of_many_conditional_puts_of_one_new_key_at_once_exactly_one_writes_it(tmp_path, monkeypatch):
    """The lock object's promise, which S3 keeps and plain moto's server did not (it looked for the key,
    then wrote it): of puts with If-None-Match: * of one new key at the same moment, one writes it and
    every other is refused with 412 PreconditionFailed, round after round. The server here keeps every
    object in a file (moto keeps those under 5 MB in memory): writing it lets the other requests run
    between moto's look and its write, as a loaded machine did in the suite (in memory, unloaded, the
    race hardly ever showed)."""
    monkeypatch.setenv("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", "1")
    server = MotoServer(tmp_path / "moto").start([])
    writers, rounds = 4, 30
    try:
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=server.endpoint_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=botocore.config.Config(max_pool_connections=writers))
        s3.create_bucket(Bucket="ops-state")
        one_wins_each_round(
            writers, rounds, refused="PreconditionFailed",
            write=lambda key, writer: s3.put_object(Bucket="ops-state", Key=key, Body=writer.encode(),
                                                    IfNoneMatch="*"),
            written=lambda key: s3.get_object(Bucket="ops-state", Key=key)["Body"].read().decode())
    finally:
        server.stop()


def test_of_many_conditional_puts_of_one_new_item_at_once_exactly_one_writes_it(aws):
    """The lock table's promise, which DynamoDB keeps and plain moto's server did not (it looked up the
    item, evaluated the condition, then wrote): of puts of one new item at the same moment on condition
    that it does not exist, one writes it and every other fails with ConditionalCheckFailedException,
    round after round. The condition here is long (attribute_not_exists(LockID), then the same of
    another attribute, 60 times): moto parses it between its look and its write, which lets the other
    requests run there (with DynamoDBLock's short condition the race hardly ever showed)."""
    writers, rounds = 4, 30
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws,
                            config=botocore.config.Config(max_pool_connections=writers))
    dynamodb.create_table(TableName="infra-locks", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
    absent = "attribute_not_exists(LockID)" + " AND attribute_not_exists(Info)" * 60
    one_wins_each_round(
        writers, rounds, refused="ConditionalCheckFailedException",
        write=lambda key, writer: dynamodb.put_item(TableName="infra-locks", ConditionExpression=absent,
                                                    Item={"LockID": {"S": key}, "Info": {"S": writer}}),
        written=lambda key: dynamodb.get_item(TableName="infra-locks", Key={"LockID": {"S": key}},
                                              ConsistentRead=True)["Item"]["Info"]["S"])


def one_wins_each_round(writers: int, rounds: int, *, write, written, refused: str) -> None:
    """`writers` threads `write(key, "writer <n>")` at the same moment, round after round (a new key
    each): exactly one writes (what is `written` there is its), every other is `refused` (an error code)."""
    together = threading.Barrier(writers, timeout=30)

    def attempt(key: str, writer: int) -> str:
        together.wait()
        try:
            write(key, f"writer {writer}")
        except botocore.exceptions.ClientError as exc:
            return exc.response["Error"]["Code"]
        return f"writer {writer}"

    with ThreadPoolExecutor(writers) as pool:
        for n in range(rounds):
            key = f"round-{n}.lock"
            answers = list(pool.map(attempt, [key] * writers, range(writers)))
            assert sorted(answers) == sorted([written(key)] + [refused] * (writers - 1)), f"round {n}"


@pytest.mark.parametrize("lock", ["object", "table"])
def test_unlock_names_who_held_the_lock_and_since_when(aws, tmp_path, monkeypatch, capsys, lock):
    from infra.aws.access import AwsOptions
    from infra.config import load_config
    from infra.state.lock import LockInfo
    from infra.state.s3 import S3Backend

    (tmp_path / "nodes.json").write_text(json.dumps({"__base__": LOCAL_ONLY, "web": {}}))
    monkeypatch.chdir(tmp_path)
    if lock == "table":
        boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws).create_table(
            TableName="infra-locks", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
    s3 = s3_state(tmp_path, aws, **({"lock_table": "infra-locks"} if lock == "table" else {}))
    holder = LockInfo(operation="apply", who="alice@ci-7", pid=4242, created="2026-11-25T10:02:11+00:00")
    S3Backend(load_config("nodes.json").settings.state, AwsOptions()).acquire(holder)
    assert (lock_object(s3) is not None) == (lock == "object")

    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "locked by alice@ci-7 (pid 4242) since 2026-11-25T10:02:11+00:00" in refused.err
    unasked = run_infra(capsys, "state", "unlock", holder.id)
    assert unasked.code == 1 and "which may still be running on ci-7" in unasked.err
    unlocked = run_infra(capsys, "state", "unlock", holder.id, "--force")
    assert unlocked.code == 0, unlocked.err
    assert unlocked.out.strip() == (f"Unlocked: the lock held by alice@ci-7 (pid 4242) since 2026-11-25T10:02:11+00:00 "
                                    f"for apply, lock id {holder.id} is gone.")
    assert lock_object(s3) is None
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    again = run_infra(capsys, "state", "unlock", holder.id, "--force")
    assert again.code == 1 and "is not locked" in again.err


def test_a_damaged_lock_object_is_named_with_what_to_do(aws, tmp_path, monkeypatch, capsys):
    (tmp_path / "nodes.json").write_text(json.dumps({"__base__": LOCAL_ONLY, "web": {}}))
    monkeypatch.chdir(tmp_path)
    s3 = s3_state(tmp_path, aws)
    s3.put_object(Bucket="ops-state", Key=LOCK, Body=b"not json")
    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "locked by an unknown process; the lock object s3://ops-state/prod/state.json.lock " \
        "names no holder (damaged); if no apply is running, delete it: aws s3 rm s3://ops-state/" in refused.err


def test_a_second_clone_is_told_its_generated_files_lag_what_the_first_applied(team_repo, tmp_path, capsys,
                                                                              monkeypatch):
    config = json.loads((tmp_path / "nodes.json").read_text())
    config["__settings__"]["project"] = "ops"  # both clones are one project whatever their folders
    (tmp_path / "nodes.json").write_text(json.dumps(config))
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    second = tmp_path / "second-clone"
    second.mkdir()
    (second / "nodes.json").write_text(json.dumps(config))  # nodes.json pulled, the generated files not committed
    monkeypatch.chdir(second)

    plan = json.loads(run_infra(capsys, "plan", "--output", "json").out)
    reasons = {action["address"]: action["reason"] for action in plan["actions"]}
    assert reasons["role.web"].startswith("roles/role-web.json is missing from this working tree, but the state "
                                          "records it as nodes.json wants it: applied from another clone")
    assert run_infra(capsys, "generate", "--check").code == 1  # what the pre-commit hook and CI catch
    assert run_infra(capsys, "generate").code == 0  # as if committed with nodes.json in the first clone
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


@pytest.mark.parametrize("lock", ["object", "table"])
def test_an_apply_whose_lock_is_removed_under_it_stops_at_the_next_step(aws, tmp_path, monkeypatch, capsys, lock):
    """Another clone's `infra state unlock --force` removes a running apply's lock: the apply stops
    before it writes state or starts anything else, in one line, so two applies never run unlocked."""
    from infra.providers.files import FilesProvider

    (tmp_path / "nodes.json").write_text(json.dumps({"__base__": LOCAL_ONLY, "web": {}, "api": {}}))
    monkeypatch.chdir(tmp_path)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws)
    if lock == "table":
        dynamodb.create_table(TableName="infra-locks", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
    s3 = s3_state(tmp_path, aws, **({"lock_table": "infra-locks"} if lock == "table" else {}))
    applied: list[str] = []
    real_apply = FilesProvider.apply

    def apply_then_lose_the_lock(self, action, attributes, progress):
        applied.append(action.address)
        if lock == "object":
            s3.delete_object(Bucket="ops-state", Key=LOCK)
        else:
            dynamodb.delete_item(TableName="infra-locks", Key={"LockID": {"S": "ops-state/prod/state.json"}})
        return real_apply(self, action, attributes, progress)

    monkeypatch.setattr(FilesProvider, "apply", apply_then_lose_the_lock)
    stopped = run_infra(capsys, "apply", "--auto-approve", "--parallelism", "1")
    assert stopped.code == 1 and len(applied) == 1, stopped.err
    assert [line for line in stopped.err.splitlines() if line.startswith("error:")] == [
        stopped.err.strip().splitlines()[-1]]
    assert ("the lock of state s3://ops-state/prod/state.json (lock id " in stopped.err
            and ") was removed while this run held it (infra state unlock?): stopped before the next step"
            in stopped.err)
    with pytest.raises(s3.exceptions.NoSuchKey):  # nothing written over what the next holder may write
        s3.get_object(Bucket="ops-state", Key="prod/state.json")


@pytest.mark.parametrize("taken", [True, False], ids=["taken", "only-removed"])
def test_a_release_whose_lock_changed_hands_after_its_look_leaves_the_new_holders_lock(aws, tmp_path, monkeypatch,
                                                                                     capsys, taken):
    """An unlock from another clone, and another apply taking the lock, land between the moment an ending
    apply reads its lock object (still its own) and its delete: the delete is conditional on the object
    read (If-Match its ETag), so the new holder's lock stays, and the ending apply says so in one line.
    Removed and not taken: nothing is left to keep, and the apply ends as it would have."""
    from infra.state.lock import LockInfo
    from infra.state.s3 import S3Backend

    (tmp_path / "nodes.json").write_text(json.dumps({"__base__": LOCAL_ONLY, "web": {}}))
    monkeypatch.chdir(tmp_path)
    s3 = s3_state(tmp_path, aws)
    bob = LockInfo(operation="apply", who="bob@ci-9", pid=4343) if taken else None
    made = S3Backend.__init__

    def made_with_a_lock_that_changes_hands(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.lock.s3 = ChangingHands(self.lock.s3, s3, bob)

    monkeypatch.setattr(S3Backend, "__init__", made_with_a_lock_that_changes_hands)
    ended = run_infra(capsys, "apply", "--auto-approve")
    assert json.loads(s3.get_object(Bucket="ops-state", Key="prod/state.json")["Body"].read())["resources"]
    if not taken:
        assert ended.code == 0 and "error" not in ended.err and lock_object(s3) is None
        return
    assert ended.code == 1, ended.err
    assert [line for line in ended.err.splitlines() if line.startswith("error:")] == [
        ended.err.strip().splitlines()[-1]]
    assert ("error: the lock of state s3://ops-state/prod/state.json (lock id " in ended.err
            and ") was removed while this run held it (infra state unlock?), as this run let go of it: a lock "
                "another run took meanwhile is left in place; run infra plan to see where things are" in ended.err)
    assert lock_object(s3) == json.loads(bob.model_dump_json())  # bob's lock stays


def test_a_store_that_refuses_a_conditional_delete_has_the_lock_deleted_as_before(aws, tmp_path, monkeypatch):
    """An S3-compatible store that answers NotImplemented to DeleteObject with If-Match: the lock is
    released with a plain delete, as infra did before it asked for the condition."""
    from infra.aws.access import AwsOptions
    from infra.config import load_config
    from infra.state.backend import locked
    from infra.state.s3 import S3Backend

    (tmp_path / "nodes.json").write_text(json.dumps({"__base__": LOCAL_ONLY, "web": {}}))
    monkeypatch.chdir(tmp_path)
    s3 = s3_state(tmp_path, aws)
    backend = S3Backend(load_config("nodes.json").settings.state, AwsOptions())
    backend.lock.s3 = RefusingConditions(backend.lock.s3)
    with locked(backend, "apply") as info:
        assert lock_object(s3)["id"] == info.id
    assert lock_object(s3) is None
    assert backend.lock.s3.refused == 1


class RefusingConditions:
    """An S3 client on a store that does not implement If-Match on DeleteObject."""

    def __init__(self, client) -> None:
        self.client, self.refused = client, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def delete_object(self, **request):
        if "IfMatch" in request:
            self.refused += 1
            raise botocore.exceptions.ClientError({"Error": {"Code": "NotImplemented", "Message": "A header you "
                                                   "provided implies functionality that is not implemented"}},
                                                  "DeleteObject")
        return self.client.delete_object(**request)


class ChangingHands:
    """infra's S3 client, whose delete of the lock object first lets another run take the lock: the
    holder's lock removed (`infra state unlock --force` elsewhere) and `holder`'s put in its place (when
    there is one)."""

    def __init__(self, client, other, holder) -> None:
        self.client, self.other, self.holder = client, other, holder

    def __getattr__(self, name):
        return getattr(self.client, name)

    def delete_object(self, **request):
        if request["Key"] == LOCK:
            self.other.delete_object(Bucket="ops-state", Key=LOCK)
            if self.holder is not None:
                self.other.put_object(Bucket="ops-state", Key=LOCK, Body=self.holder.model_dump_json().encode(),
                                      IfNoneMatch="*")
        return self.client.delete_object(**request)
