"""A workspace: the ops repository infra runs in, its config, state backend and providers.

This is where the pieces meet; the CLI builds one and calls the engine with it, and so do tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

from infra.config import Config, load_config
from infra.config.environments import Environment, require_environment
from infra.config.models import check_region
from infra.errors import InfraError
from infra.pricing import PriceTable, load_prices
from infra.providers.base import Provider, Providers
from infra.providers.files import FilesProvider
from infra.ratelimit import RequestRate, request_rate
from infra.redact import shown_url
from infra.state.backend import StateBackend
from infra.state.local import LocalBackend


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
        if self.max_request_rate is not None and not 0 < self.max_request_rate <= 10_000:
            raise InfraError(f"--max-request-rate {self.max_request_rate:g}: give the AWS requests per second, "
                             f"more than 0 and at most 10000 (0.5 is one request every 2 seconds)")
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


@dataclass
class Workspace:
    config_path: Path
    aws: AwsOptions = field(default_factory=AwsOptions)
    extra_providers: tuple[Provider, ...] = ()
    environment: str | None = None  # --env: which of nodes.json's environments

    @property
    def root(self) -> Path:
        return self.config_path.resolve().parent

    @cached_property
    def config(self) -> Config:
        config = load_config(self.config_path, self.environment)
        require_environment(config)
        return config.in_region(self.aws.region) if self.aws.region else config

    @cached_property
    def access(self) -> AwsOptions:
        """How this workspace reaches AWS: the command line's options, with the environment's account."""
        return access_to(self.aws, self.config.project.name, self.config.environment)

    @cached_property
    def upstream_access(self) -> AwsOptions | None:
        """How to reach the account of the environment this one promotes from (None: it builds)."""
        upstream = self.config.upstream
        return access_to(self.aws, self.config.project.name, upstream) if upstream is not None else None

    @cached_property
    def prices(self) -> PriceTable:
        """On-demand prices: infra's table with the ops repository's ec2-prices.json over it."""
        return load_prices(self.root)

    @cached_property
    def backend(self) -> StateBackend:
        settings = self.config.settings.state
        if settings.backend == "s3":
            from infra.state.s3 import S3Backend  # only teams that use it pay for the import

            return S3Backend(settings, self.access, limit=self.request_rate)
        return LocalBackend(self.root / settings.path)

    @cached_property
    def request_rate(self) -> RequestRate | None:
        """The one limit on AWS requests per second that every AWS client of this run shares."""
        return request_rate(self.aws.max_request_rate or self.config.settings.max_request_rate)

    @cached_property
    def providers(self) -> Providers:
        providers: list[Provider] = [FilesProvider(self.root, self.config.layout)]
        providers.extend(_cloud_providers(self))
        providers.extend(self.extra_providers)
        return Providers(providers)


def access_to(aws: AwsOptions, project: str, environment: Environment | None) -> AwsOptions:
    """`aws` (the command line's) for `environment`: its profile wins over --profile and AWS_PROFILE,
    as a Terraform provider block's does; its role is assumed from the credentials infra has."""
    if environment is None:
        return aws
    account = environment.aws
    return replace(aws, profile=account.profile or aws.profile, role_arn=account.role_arn,
                   external_id=account.external_id, account=account.account_id,
                   session_name=f"infra-{project}-{environment.name}"[:64])


def _cloud_providers(workspace: Workspace) -> list[Provider]:
    from infra.providers.aws import aws_providers  # boto3 loads only when a command needs AWS

    return aws_providers(workspace)
