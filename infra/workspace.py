"""A workspace: the ops repository infra runs in, its config, state backend and providers.

This is where the pieces meet; the CLI builds one and calls the engine with it, and so do tests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from infra.aws.access import AwsOptions, access_to, clients_of
from infra.aws.ratelimit import RequestRate, request_rate
from infra.config import Config, load_config
from infra.config.environments import require_environment
from infra.config.pricing import PriceTable, load_prices
from infra.providers.base import Provider, Providers
from infra.providers.files import FilesProvider
from infra.state.backend import StateBackend
from infra.state.journal import REMOTE_EVERY, JournaledBackend
from infra.state.local import LocalBackend

if TYPE_CHECKING:
    from infra.aws.session import AwsClients


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
        """The state's backend, with a local journal beside it that applies append to (state/journal.py)."""
        settings = self.config.settings.state
        if settings.backend == "s3":
            from infra.state.s3 import S3Backend  # only teams that use it pay for the import

            remote = S3Backend(settings, self.access, limit=self.request_rate)
            named = hashlib.sha256(remote.description.encode()).hexdigest()[:12]
            return JournaledBackend(remote, self.root / ".infra" / f"s3-state-{named}.journal", every=REMOTE_EVERY)
        local = self.root / settings.path
        return JournaledBackend(LocalBackend(local), local.with_name(local.name + ".journal"))

    @cached_property
    def request_rate(self) -> RequestRate | None:
        """The one limit on AWS requests per second that every AWS client of this run shares."""
        return request_rate(self.aws.max_request_rate or self.config.settings.max_request_rate)

    @cached_property
    def aws_clients(self) -> AwsClients:
        """Clients on this workspace's account, at most `request_rate` requests a second, waiting up to
        `__settings__.consistency_timeout` for AWS to show what was just made; loads boto3."""
        return clients_of(self.access, limit=self.request_rate,
                          consistency_timeout=self.config.settings.consistency_timeout)

    @cached_property
    def providers(self) -> Providers:
        providers: list[Provider] = [FilesProvider(self.root, self.config.layout)]
        providers.extend(_cloud_providers(self))
        providers.extend(self.extra_providers)
        return Providers(providers)


def _cloud_providers(workspace: Workspace) -> list[Provider]:
    from infra.providers.aws import aws_providers  # boto3 loads only when a command needs AWS
    from infra.providers.aws.common import AwsContext

    return aws_providers(AwsContext(config=workspace.config, clients=workspace.aws_clients, root=workspace.root,
                                    state=workspace.backend, upstream=workspace.upstream_access))
