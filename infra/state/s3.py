"""Team state: the state object in S3 (history kept by bucket versioning), locked with a lock
object beside it, or with a DynamoDB item when `lock_table` names a table (s3_locks.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from infra.aws.access import clients_of
from infra.aws.ratelimit import RequestRate
from infra.aws.session import aws_errors
from infra.config.models import StateSettings
from infra.errors import ProviderError
from infra.fsutil import decode
from infra.state.lock import Confirm, LockInfo
from infra.state.model import State
from infra.state.s3_locks import DynamoDBLock, S3LockObject


class S3Backend:
    def __init__(self, settings: StateSettings, aws: Any, *, limit: RequestRate | None = None) -> None:
        """`settings` name a bucket (nodes.json is refused without one) and maybe a lock table."""
        self.bucket, self.key = cast(str, settings.bucket), settings.key
        self.description = f"s3://{self.bucket}/{self.key}"
        clients = clients_of(replace(aws, region=settings.region or aws.region), limit=limit)  # its account
        self.s3 = clients.client("s3", settings.region)
        self.lock = (DynamoDBLock(clients.client("dynamodb", settings.region), settings.lock_table, self.bucket,
                                  self.key)
                     if settings.lock_table else S3LockObject(self.s3, self.bucket, self.key))

    def make_storage(self) -> list[str]:
        """Make the bucket and the lock table where they are missing (the sandbox's start does, for
        every environment); what it made, in words. On AWS, make them once by hand (docs/state.md)."""
        made = []
        region = self.s3.meta.region_name
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            with aws_errors(f"making state bucket {self.bucket}"):
                self.s3.create_bucket(Bucket=self.bucket, **where)
            made.append(f"state bucket {self.bucket}")
        except ProviderError as exc:  # one bucket may hold every environment's state, in whichever account
            if "BucketAlreadyOwnedByYou" not in str(exc) and "BucketAlreadyExists" not in str(exc):
                raise
        if isinstance(self.lock, DynamoDBLock):
            made += self.lock.make_table()
        return made

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
        self.lock.acquire(info)

    def release(self, info: LockInfo) -> None:
        self.lock.release(info)

    def holds(self, info: LockInfo) -> bool:
        return self.lock.holds(info)

    def force_unlock(self, lock_id: str, confirm: Confirm) -> LockInfo:
        return self.lock.force_unlock(lock_id, confirm)
