"""The AWS provider, split by resource kind; every module shares the clients of infra/aws/session.py,
handed over in one `AwsContext` (common.py) by the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from infra.providers.aws.common import AwsContext

if TYPE_CHECKING:
    from infra.providers.base import Provider


def aws_providers(context: AwsContext) -> list[Provider]:
    """One provider per AWS resource kind, all on the same clients."""
    from infra.providers.aws.adoption import ImportFinder
    from infra.providers.aws.autoscaling import AutoscalingProvider
    from infra.providers.aws.build_leftovers import BuildLeftoversProvider
    from infra.providers.aws.images import ImagesProvider
    from infra.providers.aws.instances import InstancesProvider
    from infra.providers.aws.launch_templates import LaunchTemplatesProvider
    from infra.providers.aws.plan_checks import PlanChecks

    providers: list[Provider] = [cls(context) for cls in (ImagesProvider, LaunchTemplatesProvider, AutoscalingProvider,
                                                          InstancesProvider, BuildLeftoversProvider)]
    # Of no kind (they never observe nor apply): find_importable and look_alikes; check_plan.
    return [*providers, cast("Provider", ImportFinder(context)), cast("Provider", PlanChecks(context))]
