"""How a run reaches AWS: the command line's options, an environment's account, and the clients
they give. Imported by the workspace without loading boto3; `clients_of` loads it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from infra.aws.ratelimit import rate_problem
from infra.config.environments import Environment
from infra.config.models import check_region
from infra.errors import InfraError
from infra.redact import shown_url

if TYPE_CHECKING:
    from infra.aws.ratelimit import RequestRate
    from infra.aws.session import AwsClients


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    max_request_rate: float | None = None  # over __settings__.max_request_rate
    # An environment's account (nodes.json): the role to assume, and the account it must be.
    role_arn: str | None = None
    external_id: str | None = None
    account: str | None = None
    session_name: str = "infra"

    def __post_init__(self) -> None:
        """Bad options are one clear line here, not a botocore error on the first AWS call."""
        if self.region is not None:
            try:
                check_region(self.region)
            except ValueError as exc:
                raise InfraError(f"--region: {exc}") from None
        if self.max_request_rate is not None and rate_problem(self.max_request_rate):
            raise InfraError(f"--max-request-rate {self.max_request_rate:g}: {rate_problem(self.max_request_rate)}")
        if self.endpoint_url is not None:
            try:
                url = urlparse(self.endpoint_url)
                url.port  # noqa: B018 (parses the port: a bad one raises here)
            except ValueError as exc:
                raise InfraError(f"endpoint {shown_url(self.endpoint_url)!r} (--endpoint-url / AWS_ENDPOINT_URL): "
                                 f"{exc}") from None
            if url.scheme not in ("http", "https") or not url.hostname:
                raise InfraError(f"endpoint {shown_url(self.endpoint_url)!r} (--endpoint-url / AWS_ENDPOINT_URL) is "
                                 f"not an http(s) URL like http://127.0.0.1:5000 (infra sandbox start prints one)")


def access_to(aws: AwsOptions, project: str, environment: Environment | None) -> AwsOptions:
    """`aws` (the command line's) for `environment`: its profile wins over --profile and AWS_PROFILE,
    as a Terraform provider block's does; its role is assumed from the credentials infra has."""
    if environment is None:
        return aws
    account = environment.aws
    return replace(aws, profile=account.profile or aws.profile, role_arn=account.role_arn,
                   external_id=account.external_id, account=account.account_id,
                   session_name=f"infra-{project}-{environment.name}"[:64])


def clients_of(aws: AwsOptions, limit: RequestRate | None = None,
               consistency_timeout: float | None = None) -> AwsClients:
    """Clients reaching AWS as `aws` says: a profile, a role to assume, the account it must be; at
    most `limit` requests a second across all of them; waiting up to `consistency_timeout` seconds
    (__settings__'s; None: INFRA_CONSISTENCY_TIMEOUT, else 120) for what was just made to show."""
    from infra.aws.assume import Role
    from infra.aws.consistency import Patience, timeout_from
    from infra.aws.session import AwsClients

    return AwsClients(region=aws.region, profile=aws.profile, endpoint_url=aws.endpoint_url,
                      role=Role(aws.role_arn, aws.external_id, aws.session_name) if aws.role_arn else None,
                      account=aws.account, limit=limit, patience=Patience(timeout_from(consistency_timeout)))
