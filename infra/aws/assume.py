"""An environment's AWS account: a role assumed from the credentials infra has, and the check
that the credentials are of the account nodes.json names.

The role's credentials refresh themselves before they expire (an apply may outlast them); nothing
is written anywhere: packer gets them in its environment (session.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.credentials import RefreshableCredentials

from infra.aws.query_bodies import encode_once
from infra.aws.xml_answers import parsing_session

SESSION_SECONDS = 3600  # what every role allows unless its maximum session duration was lowered


@dataclass(frozen=True)
class Role:
    arn: str
    external_id: str | None = None
    session_name: str = "infra"


def assumed_session(sts: Any, role: Role) -> boto3.session.Session:
    """A session with `role`'s credentials, from `sts` (a client on the credentials infra has)."""
    def fetch() -> dict[str, str]:
        request: dict[str, Any] = {"RoleArn": role.arn, "RoleSessionName": role.session_name,
                                   "DurationSeconds": SESSION_SECONDS}
        if role.external_id:
            request["ExternalId"] = role.external_id
        credentials = sts.assume_role(**request)["Credentials"]
        return {"access_key": credentials["AccessKeyId"], "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"], "expiry_time": credentials["Expiration"].isoformat()}

    session = encode_once(parsing_session())
    session._credentials = RefreshableCredentials.create_from_metadata(  # noqa: SLF001 (botocore has no setter)
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role")
    return boto3.session.Session(botocore_session=session)


def account_mismatch(found: str, expected: str | None) -> str | None:
    """What to say when the credentials are of another account than the one expected, else None."""
    if expected is None or found == expected:
        return None
    return (f"nodes.json says this environment runs in AWS account {expected}, but the credentials are of account "
            f"{found}; use that account's credentials (the environment's aws.profile or aws.role_arn, --profile, "
            f"AWS_PROFILE)")
