"""The AWS provider, split by resource kind; every module shares the clients in session.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from infra.aws.access import clients_of
from infra.aws.session import AwsClients

if TYPE_CHECKING:
    from infra.providers.base import Provider
    from infra.workspace import Workspace


def clients_for(workspace: Workspace) -> AwsClients:
    return clients_of(workspace.access, limit=workspace.request_rate)


def aws_providers(workspace: Workspace) -> list[Provider]:
    """One provider per AWS resource kind, all on the same clients."""
    from infra.providers.aws.adoption import ImportFinder
    from infra.providers.aws.autoscaling import AutoscalingProvider
    from infra.providers.aws.build_leftovers import BuildLeftoversProvider
    from infra.providers.aws.images import ImagesProvider
    from infra.providers.aws.instances import InstancesProvider
    from infra.providers.aws.launch_templates import LaunchTemplatesProvider

    clients = clients_for(workspace)
    providers: list[Provider] = [cls(workspace, clients) for cls in (ImagesProvider, LaunchTemplatesProvider,
                                                                     AutoscalingProvider, InstancesProvider,
                                                                     BuildLeftoversProvider)]
    # Of no kind (it never observes nor applies): it only offers find_importable and look_alikes.
    return [*providers, cast("Provider", ImportFinder(workspace, clients))]
