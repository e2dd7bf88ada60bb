"""Deploys through SSM Run Command: re-run chef-solo on a group's running nodes, BATCH at a time.

One command per region reaches every chosen group by its `group` and `infra:owner` tags (another
project's group of the same name is not this deploy's); SSM itself paces it
(MaxConcurrency) and stops it when too many nodes fail (MaxErrors). Per-node results come from
list_command_invocations; where an endpoint lacks it (moto), from get_command_invocation for
each node, and failing that the command's own counts are all there is to report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from botocore.config import Config as BotoConfig

from infra.aws.session import AwsClients, aws_errors, error_code, paginate
from infra.providers.aws.common import GROUP_TAG, MANAGED
from infra.providers.base import Progress
from infra.reconciler.graph import OWNER_TAG

DOCUMENT = "AWS-RunShellScript"
CHEF_SOLO = "chef-solo -j /etc/chef/dna.json"
DONE = {"Success", "Cancelled", "Failed", "TimedOut"}
FAILED = {"Failed", "TimedOut", "DeliveryTimedOut", "ExecutionTimedOut"}
# A call that an endpoint may not implement is asked once, not retried for a minute.
ONCE = BotoConfig(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=10, read_timeout=30)


@dataclass
class NodeResult:
    instance_id: str
    group: str
    status: str
    response_code: int | None = None
    output: str = ""


@dataclass
class RegionDeploy:
    region: str
    groups: list[str]
    command_id: str = ""
    status: str = ""
    targets: int = 0
    completed: int = 0
    errors: int = 0
    nodes: list[NodeResult] | None = None  # None: the endpoint cannot tell per node
    note: str = ""

    def count_nodes(self, nodes: list[NodeResult] | None) -> None:
        """Take the nodes' own results as the counts when there are any: SSM's counts take in every
        instance carrying the tag, which on some endpoints includes instances already terminated."""
        self.nodes = nodes
        if nodes is not None:
            self.targets = len(nodes)
            self.completed = sum(node.status in DONE for node in nodes)
            self.errors = sum(node.status in FAILED for node in nodes)

    @property
    def ok(self) -> bool:
        failed_nodes = any(n.status not in ("Success",) for n in self.nodes or [])
        return self.status in ("Success", "") and not self.errors and not failed_nodes


@dataclass
class Deployer:
    clients: AwsClients
    owner: str  # the project whose nodes these are
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll: float = 5.0
    _once: dict[str, Any] = field(default_factory=dict)

    def running_nodes(self, region: str, groups: list[str]) -> dict[str, str]:
        """Instance id -> group of every running managed node of `groups`, in one call."""
        nodes: dict[str, str] = {}
        for reservation in paginate(self.clients.client("ec2", region), "describe_instances", "Reservations",
                                    Filters=[MANAGED, {"Name": f"tag:{GROUP_TAG}", "Values": groups},
                                             {"Name": f"tag:{OWNER_TAG}", "Values": [self.owner]},
                                             {"Name": "instance-state-name", "Values": ["running"]}]):
            for instance in reservation.get("Instances", []):
                group = next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == GROUP_TAG), "")
                nodes[instance["InstanceId"]] = group
        return nodes

    def send(self, region: str, groups: list[str], batch: int, max_errors: str, timeout: int) -> str:
        with aws_errors("send the deploy command (SSM send_command)"):
            command = self.clients.client("ssm", region).send_command(
                DocumentName=DOCUMENT,
                Targets=[{"Key": f"tag:{GROUP_TAG}", "Values": groups},
                         {"Key": f"tag:{OWNER_TAG}", "Values": [self.owner]}],
                Parameters={"commands": [CHEF_SOLO]},
                MaxConcurrency=str(batch), MaxErrors=max_errors, TimeoutSeconds=timeout,
                Comment=("infra instance:deploy " + " ".join(groups))[:100],
            )["Command"]
        return command["CommandId"]

    def wait(self, region: str, command_id: str, deadline: float, progress: Progress) -> dict[str, Any]:
        """Poll the command until SSM says it is done, or the deadline passes (then as it stands)."""
        client = self.clients.client("ssm", region)
        end = self.clock() + deadline
        last = None
        while True:
            with aws_errors("follow the deploy command (SSM list_commands)"):
                commands = client.list_commands(CommandId=command_id)["Commands"]
            command = commands[0] if commands else {"Status": "Pending"}
            seen = (command.get("Status"), command.get("CompletedCount"), command.get("ErrorCount"))
            if seen != last:
                progress(f"{command.get('Status')}: {command.get('CompletedCount', 0)}/"
                         f"{command.get('TargetCount', '?')} node(s) done, {command.get('ErrorCount', 0)} failed")
                last = seen
            if command.get("Status") in DONE or self.clock() >= end:
                return command
            self.sleep(min(self.poll, max(0.0, end - self.clock())))

    def results(self, region: str, command_id: str, nodes: dict[str, str]) -> tuple[list[NodeResult] | None, str]:
        """Per-node results, and a note for the user when the endpoint cannot tell them."""
        try:
            found = self._listed(region, command_id)
            return [_result(i, nodes.get(i["InstanceId"], "")) for i in found], ""
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            pass
        client = self.clients.client("ssm", region)
        results: list[NodeResult] = []
        try:
            for instance_id, group in sorted(nodes.items()):
                try:
                    invocation = client.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
                except botocore.exceptions.ClientError as exc:
                    if error_code(exc) != "InvocationDoesNotExist":
                        raise
                    results.append(NodeResult(instance_id, group, "NotRun"))
                    continue
                results.append(NodeResult(instance_id, group, invocation.get("Status", "?"),
                                          invocation.get("ResponseCode"),
                                          _tail(invocation.get("StandardErrorContent") or
                                                invocation.get("StandardOutputContent") or "")))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            return None, "this endpoint reports no per-node results; the counts above are SSM's own"
        return results, ""  # pieced together node by node: the same results, nothing the user need know

    def _listed(self, region: str, command_id: str) -> list[dict[str, Any]]:
        if region not in self._once:
            session = self.clients.session()
            credentials: dict[str, str] = {}
            if self.clients.is_sandbox and session.get_credentials() is None:
                credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            self._once[region] = session.client("ssm", region_name=region,
                                                endpoint_url=self.clients.endpoint_url, config=ONCE, **credentials)
        found: list[dict[str, Any]] = []
        for page in self._once[region].get_paginator("list_command_invocations").paginate(CommandId=command_id,
                                                                                          Details=True):
            found.extend(page.get("CommandInvocations", []))
        return found


def _result(invocation: dict[str, Any], group: str) -> NodeResult:
    plugins = invocation.get("CommandPlugins") or [{}]
    output = plugins[-1].get("Output", "")
    return NodeResult(invocation["InstanceId"], group, invocation.get("Status", "?"),
                      plugins[-1].get("ResponseCode"), _tail(output))


def _tail(text: str, lines: int = 3) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
