"""The AWS provider, split by resource kind; every module shares the clients in session.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.providers.aws.session import AwsClients

if TYPE_CHECKING:
    from infra.providers.base import Provider
    from infra.workspace import Workspace


def clients_for(workspace: "Workspace") -> AwsClients:
    aws = workspace.aws
    return AwsClients(region=aws.region, profile=aws.profile, endpoint_url=aws.endpoint_url,
                      limit=workspace.request_rate)


def aws_providers(workspace: "Workspace") -> list["Provider"]:
    """One provider per AWS resource kind, all on the same clients."""
    from infra.providers.aws.autoscaling import AutoscalingProvider
    from infra.providers.aws.build_leftovers import BuildLeftoversProvider
    from infra.providers.aws.images import ImagesProvider
    from infra.providers.aws.imports import ImportFinder
    from infra.providers.aws.instances import InstancesProvider
    from infra.providers.aws.launch_templates import LaunchTemplatesProvider

    clients = clients_for(workspace)
    return [cls(workspace, clients) for cls in (ImagesProvider, LaunchTemplatesProvider, AutoscalingProvider,
                                                InstancesProvider, BuildLeftoversProvider, ImportFinder)]
