"""The AWS provider, split by resource kind; every module shares the clients in session.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.providers.aws.session import AwsClients

if TYPE_CHECKING:
    from infra.providers.base import Provider
    from infra.workspace import Workspace


def clients_for(workspace: "Workspace") -> AwsClients:
    aws = workspace.aws
    return AwsClients(region=aws.region, profile=aws.profile, endpoint_url=aws.endpoint_url)


def aws_providers(workspace: "Workspace") -> list["Provider"]:
    """The AWS providers of this build; each module adds itself here as it lands."""
    clients = clients_for(workspace)
    providers: list["Provider"] = []
    for factory in _factories():
        providers.append(factory(workspace, clients))
    return providers


def _factories():
    import importlib

    found = []
    for module, name in (("infra.providers.aws.images", "ImagesProvider"),
                         ("infra.providers.aws.launch_templates", "LaunchTemplatesProvider"),
                         ("infra.providers.aws.autoscaling", "AutoscalingProvider"),
                         ("infra.providers.aws.instances", "InstancesProvider")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return found
