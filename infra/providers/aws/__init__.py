"""The AWS provider, split by resource kind; every module shares the clients in session.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from infra.providers.aws.assume import Role
from infra.providers.aws.session import AwsClients

if TYPE_CHECKING:
    from infra.providers.base import Provider
    from infra.ratelimit import RequestRate
    from infra.workspace import AwsOptions, Workspace


def clients_for(workspace: Workspace) -> AwsClients:
    return clients_of(workspace.access, limit=workspace.request_rate)


def clients_of(aws: AwsOptions, limit: RequestRate | None = None) -> AwsClients:
    """Clients reaching AWS as `aws` says: a profile, a role to assume, the account it must be; at
    most `limit` requests a second across all of them."""
    return AwsClients(region=aws.region, profile=aws.profile, endpoint_url=aws.endpoint_url,
                      role=Role(aws.role_arn, aws.external_id, aws.session_name) if aws.role_arn else None,
                      account=aws.account, limit=limit)


def aws_providers(workspace: Workspace) -> list[Provider]:
    """One provider per AWS resource kind, all on the same clients."""
    from infra.providers.aws.autoscaling import AutoscalingProvider
    from infra.providers.aws.build_leftovers import BuildLeftoversProvider
    from infra.providers.aws.images import ImagesProvider
    from infra.providers.aws.imports import ImportFinder
    from infra.providers.aws.instances import InstancesProvider
    from infra.providers.aws.launch_templates import LaunchTemplatesProvider

    clients = clients_for(workspace)
    providers: list[Provider] = [cls(workspace, clients) for cls in (ImagesProvider, LaunchTemplatesProvider,
                                                                     AutoscalingProvider, InstancesProvider,
                                                                     BuildLeftoversProvider)]
    # Of no kind (it never observes nor applies): it only offers find_importable and look_alikes.
    return [*providers, cast("Provider", ImportFinder(workspace, clients))]
