"""Team state: the state object in S3 (history kept by bucket versioning) and a DynamoDB lock.

The lock works the way Terraform's S3 backend does: one item per state, keyed `LockID` =
`<bucket>/<key>`, written with a conditional put so only one apply can hold it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import botocore.exceptions

from infra.config.models import StateSettings
from infra.errors import StateError, StateLockedError
from infra.fsutil import decode
from infra.providers.aws import clients_of
from infra.providers.aws.session import aws_errors
from infra.state.lock import LockInfo
from infra.state.model import State


class S3Backend:
    def __init__(self, settings: StateSettings, aws: Any) -> None:
        """`settings` name a bucket and a lock table: nodes.json is refused without them."""
        self.bucket, self.key, self.table = settings.bucket, settings.key, settings.lock_table
        self.lock_id = f"{self.bucket}/{self.key}"
        self.description = f"s3://{self.bucket}/{self.key}"
        clients = clients_of(replace(aws, region=settings.region or aws.region))  # the environment's account
        self.s3 = clients.client("s3", settings.region)
        self.dynamodb = clients.client("dynamodb", settings.region)

    def read(self) -> State:
        with aws_errors(f"reading state {self.description}"):
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
            except self.s3.exceptions.NoSuchKey:
                return State()
        return State.from_json(decode(body, self.description), self.description)

    def write(self, state: State) -> None:
        with aws_errors(f"writing state {self.description}"):
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=state.to_json().encode(),
                               ContentType="application/json")

    def acquire(self, info: LockInfo) -> None:
        try:
            self.dynamodb.put_item(TableName=self.table,
                                   Item={"LockID": {"S": self.lock_id}, "Info": {"S": info.model_dump_json()}},
                                   ConditionExpression="attribute_not_exists(LockID)")
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                with aws_errors(f"locking state in DynamoDB table {self.table}"):
                    raise
            holder = self._holder()
            described = holder.describe() if holder else "an unknown process"
            hint = f"; if that process is gone, run: infra state unlock {holder.id}" if holder else ""
            raise StateLockedError(f"state {self.description} is locked by {described}{hint}") from None
        except botocore.exceptions.BotoCoreError:
            with aws_errors(f"locking state in DynamoDB table {self.table}"):
                raise

    def release(self, info: LockInfo) -> None:
        try:
            self.dynamodb.delete_item(TableName=self.table, Key={"LockID": {"S": self.lock_id}},
                                      ConditionExpression="Info = :info",
                                      ExpressionAttributeValues={":info": {"S": info.model_dump_json()}})
        except botocore.exceptions.ClientError:
            pass  # not ours any more (force-unlocked): leave the new holder alone

    def force_unlock(self, lock_id: str) -> LockInfo:
        holder = self._holder()
        if holder is None:
            raise StateError(f"state {self.description} is not locked")
        if holder.id != lock_id:
            raise StateError(f"lock id {lock_id} does not match the lock held by {holder.describe()}")
        with aws_errors(f"unlocking state in DynamoDB table {self.table}"):
            self.dynamodb.delete_item(TableName=self.table, Key={"LockID": {"S": self.lock_id}})
        return holder

    def _holder(self) -> LockInfo | None:
        with aws_errors(f"reading the lock in DynamoDB table {self.table}"):
            item = self.dynamodb.get_item(TableName=self.table, Key={"LockID": {"S": self.lock_id}},
                                          ConsistentRead=True).get("Item")
        if not item:
            return None
        try:
            return LockInfo.model_validate_json(item["Info"]["S"])
        except (KeyError, ValueError):
            return None
