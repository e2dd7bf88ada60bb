"""A workspace: the ops repository infra runs in, its config, state backend and providers.

This is where the pieces meet; the CLI builds one and calls the engine with it, and so do tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from infra.config import Config, load_config
from infra.config.models import check_region
from infra.errors import InfraError
from infra.providers.base import Provider, Providers
from infra.providers.files import FilesProvider
from infra.redact import shown_url
from infra.state.backend import StateBackend
from infra.state.local import LocalBackend


@dataclass(frozen=True)
class AwsOptions:
    region: Optional[str] = None
    profile: Optional[str] = None
    endpoint_url: Optional[str] = None

    def __post_init__(self) -> None:
        """Bad options are one clear line here, not a botocore error on the first AWS call."""
        if self.region is not None:
            try:
                check_region(self.region)
            except ValueError as exc:
                raise InfraError(f"--region: {exc}") from None
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

    @property
    def root(self) -> Path:
        return self.config_path.resolve().parent

    @cached_property
    def config(self) -> Config:
        config = load_config(self.config_path)
        return config.in_region(self.aws.region) if self.aws.region else config

    @cached_property
    def backend(self) -> StateBackend:
        settings = self.config.settings.state
        if settings.backend == "s3":
            from infra.state.s3 import S3Backend  # only teams that use it pay for the import

            return S3Backend(settings, self.aws)
        return LocalBackend(self.root / settings.path)

    @cached_property
    def providers(self) -> Providers:
        providers: list[Provider] = [FilesProvider(self.root)]
        providers.extend(_cloud_providers(self))
        providers.extend(self.extra_providers)
        return Providers(providers)


def _cloud_providers(workspace: Workspace) -> list[Provider]:
    from infra.providers.aws import aws_providers  # boto3 loads only when a command needs AWS

    return aws_providers(workspace)
