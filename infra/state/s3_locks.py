"""The two locks of S3 state: a lock object beside the state (the default), or a DynamoDB item.

Both are taken with a conditional write that the service itself decides, so of two applies that
try at the same moment exactly one gets the lock, and the other is told who holds it:

- `S3LockObject`: `<key>.lock` in the state's bucket, written with `If-None-Match: *` (S3 refuses
  the write when the object exists: 412 PreconditionFailed, or 409 while another conditional
  write of it is in flight). Nothing else to create or pay for: Terraform's `use_lockfile`.
- `DynamoDBLock`: one item keyed `LockID=<bucket>/<key>`, put with `attribute_not_exists(LockID)`,
  as Terraform's S3 backend does with `dynamodb_table`, for teams that already have the table.

Each is let go with a conditional delete too (the lock object If-Match the ETag read as this run's,
the item on condition that it names this run), so a release never removes a lock another run took.

Either holds the `LockInfo` JSON (who, pid, since when, for what), shown when a second apply is
refused and by `infra state unlock`.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from infra.aws.session import aws_errors, error_code
from infra.state.lock import Confirm, LockInfo, lock_lost_at_release, locked_error, unlockable

TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")  # S3's answers to a put of an existing lock


def _parsed(text: str | bytes) -> LockInfo | None:
    try:
        return LockInfo.model_validate_json(text)
    except ValueError:
        return None


def _info_of(item: dict[str, Any] | None) -> LockInfo | None:
    """The holder a DynamoDB lock item names."""
    return _parsed(item.get("Info", {}).get("S", "")) if item else None


class S3LockObject:
    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, f"{key}.lock"
        self.state = f"s3://{bucket}/{key}"
        self.where = f"s3://{bucket}/{self.key}"

    def acquire(self, info: LockInfo) -> None:
        body = info.model_dump_json().encode()
        for _ in range(2):  # once more when the holder let go between our put and our look
            if self._put(body):
                return
            there, holder = self._holder()
            if there:
                raise locked_error(self.state, holder, self._damaged())
        raise locked_error(self.state, None, "another run is taking and releasing it; try again in a moment")

    def _put(self, body: bytes) -> bool:
        """Write the lock object unless it exists; whether this run now holds the lock."""
        with aws_errors(f"locking state with {self.where}"):
            try:
                self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body, IfNoneMatch="*",
                                   ContentType="application/json")
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in TAKEN:
                    return False
                raise
        return True

    def release(self, info: LockInfo) -> None:
        """Delete the lock object if it is this run's, on condition that it is still the object read
        (If-Match its ETag): one force-unlocked and taken by another run between the read and the
        delete is left to that run, and this run is told it lost its lock."""
        holder, etag = self._read()
        if holder is None or holder.id != info.id:  # not ours any more (force-unlocked): leave it
            return
        with aws_errors(f"unlocking state: deleting {self.where}"):
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=etag)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "PreconditionFailed":  # another run's lock object since the read
                    raise lock_lost_at_release(self.state, info) from None
                if error_code(exc) == "NoSuchKey":  # gone since the read (or by this delete, retried): nobody's to keep
                    return
                if error_code(exc) != "NotImplemented":
                    raise
                # A store that answers NotImplemented to If-Match on DeleteObject (S3 takes it since
                # 2024; a store that ignores the header deletes, as this did before): delete unconditionally.
                self.s3.delete_object(Bucket=self.bucket, Key=self.key)

    def holds(self, info: LockInfo) -> bool:
        holder = self._holder()[1]
        return holder is not None and holder.id == info.id

    def force_unlock(self, lock_id: str, confirm: Confirm) -> LockInfo:
        there, holder = self._holder()
        removed = unlockable(self.state, holder, lock_id, damaged=self._damaged() if there else None,
                             confirm=confirm)
        with aws_errors(f"unlocking state: deleting {self.where}"):
            self.s3.delete_object(Bucket=self.bucket, Key=self.key)
        return removed

    def _holder(self) -> tuple[bool, LockInfo | None]:
        """Whether the lock object exists, and the holder it names (None when it names none)."""
        holder, etag = self._read()
        return etag is not None, holder

    def _read(self) -> tuple[LockInfo | None, str | None]:
        """The holder the lock object names (None when it names none) and its ETag (None: no object)."""
        with aws_errors(f"reading the lock {self.where}"):
            try:
                found = self.s3.get_object(Bucket=self.bucket, Key=self.key)
            except self.s3.exceptions.NoSuchKey:
                return None, None
            return _parsed(found["Body"].read()), found["ETag"]

    def _damaged(self) -> str:
        return (f"the lock object {self.where} names no holder (damaged); if no apply is running, delete it: "
                f"aws s3 rm {self.where}")


class DynamoDBLock:
    def __init__(self, dynamodb: Any, table: str, bucket: str, key: str) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.lock_id = f"{bucket}/{key}"
        self.state = f"s3://{bucket}/{key}"

    def make_table(self) -> list[str]:
        """Make the lock table where it is missing (as docs/state.md's create-table does); what it made."""
        with aws_errors(f"making lock table {self.table}"):
            if self.table in self.dynamodb.list_tables().get("TableNames", []):
                return []
            self.dynamodb.create_table(TableName=self.table, BillingMode="PAY_PER_REQUEST",
                                       AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                                       KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}])
        return [f"lock table {self.table}"]

    def acquire(self, info: LockInfo) -> None:
        with aws_errors(f"locking state in DynamoDB table {self.table}"):
            try:
                self.dynamodb.put_item(TableName=self.table,
                                       Item={"LockID": {"S": self.lock_id}, "Info": {"S": info.model_dump_json()}},
                                       ConditionExpression="attribute_not_exists(LockID)")
                return
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        raise locked_error(self.state, _info_of(self._item()), self._damaged())

    def release(self, info: LockInfo) -> None:
        """Delete the item if it still names this run. Any other failure (access denied, throttled past
        botocore's retries) is said in one line: the lock stays, and the next run would find it."""
        with aws_errors(f"unlocking state in DynamoDB table {self.table}"):
            try:
                self.dynamodb.delete_item(TableName=self.table, Key={"LockID": {"S": self.lock_id}},
                                          ConditionExpression="Info = :info",
                                          ExpressionAttributeValues={":info": {"S": info.model_dump_json()}})
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                # not ours any more (force-unlocked): leave the new holder alone

    def holds(self, info: LockInfo) -> bool:
        holder = _info_of(self._item())
        return holder is not None and holder.id == info.id

    def force_unlock(self, lock_id: str, confirm: Confirm) -> LockInfo:
        item = self._item()
        removed = unlockable(self.state, _info_of(item), lock_id, damaged=self._damaged() if item else None,
                             confirm=confirm)
        with aws_errors(f"unlocking state in DynamoDB table {self.table}"):
            self.dynamodb.delete_item(TableName=self.table, Key={"LockID": {"S": self.lock_id}})
        return removed

    def _item(self) -> dict[str, Any] | None:
        with aws_errors(f"reading the lock in DynamoDB table {self.table}"):
            return self.dynamodb.get_item(TableName=self.table, Key={"LockID": {"S": self.lock_id}},
                                          ConsistentRead=True).get("Item")

    def _damaged(self) -> str:
        return (f"the lock item {self.lock_id} in DynamoDB table {self.table} names no holder (damaged); if no "
                f"apply is running, delete that item")
