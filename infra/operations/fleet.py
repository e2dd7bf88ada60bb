"""The fleet operations that are not plain targeted applies: one-off instances and deploys.

`create_instance` turns `instance:create GROUP --key PATH --name NAME [--zone ZONE]` into one
resource, `instance.GROUP.NAME`, that the engine plans and applies and the state records (so plan
and drift see it afterwards). `deploy` re-runs chef-solo on a group's running nodes through SSM.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from infra import engine
from infra.config import Group
from infra.config.chef import dna_document
from infra.config.models import MAX_NODES
from infra.errors import InfraError
from infra.providers.base import Progress
from infra.reconciler.executor import ApplyResult, Listener
from infra.reconciler.graph import group_tags, group_user_data, image_of
from infra.reconciler.refs import parse_ref
from infra.reconciler.resources import Resource
from infra.workspace import Workspace

if TYPE_CHECKING:
    from infra.providers.aws.instances import InstancesProvider

INSTANCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch: `$` would take "web-1\n"
MAX_ERRORS = re.compile(r"[0-9]+%?")


class FleetError(InfraError):
    """instance:create or instance:deploy was asked for something that cannot be done."""


def key_name(path: Path) -> str:
    """The key pair a key file stands for: its file name without the extension."""
    return Path(path).stem


def public_key(path: Path) -> str:
    """The OpenSSH public key of a private key file (or of a .pub file), with no passphrase prompt."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise FleetError(f"{path}: no such key file") from None
    except OSError as exc:
        raise FleetError(f"{path}: cannot read the key: {exc.strerror}") from None
    if text.startswith((b"ssh-", b"ecdsa-")):
        return text.decode().split("\n")[0].strip()
    beside = path.with_name(path.name + ".pub")
    if beside.is_file():
        return beside.read_text().split("\n")[0].strip()
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # not a dependency of infra; ssh-keygen does the same
        return _ssh_keygen_public(path)
    for load in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            key = load(text, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()
    raise FleetError(f"{path}: not a private key infra can read (encrypted?); put its public half beside it "
                     f"as {beside.name}")


def _ssh_keygen_public(path: Path) -> str:
    try:
        done = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30)
    except FileNotFoundError:
        raise FleetError(f"{path}: cannot derive its public key without ssh-keygen; put the public half beside "
                         f"it as {path.name}.pub") from None
    if done.returncode != 0:
        raise FleetError(f"{path}: ssh-keygen cannot read it ({done.stderr.strip() or 'encrypted?'}); put its "
                         f"public half beside it as {path.name}.pub")
    return done.stdout.strip()


def instance_resource(group: Group, name: str, key: str, zone: str, root: Path | str, owner: str,
                      environment: str | None = None) -> Resource:
    """The desired one-off instance: the group's image, type and security groups, booting its role."""
    image = image_of(group)
    source = parse_ref(image)
    return Resource(kind="instance", group=group.name, name=name, depends_on=(source[0],) if source else (),
                    attributes={
                        "region": group.region,
                        "image_id": image,
                        "instance_type": group.instance_type,
                        "zone": zone,
                        "key_name": key,
                        "security_groups": group.security_groups,
                        "iam_instance_profile": group.iam_instance_profile,
                        "user_data": group_user_data(group, dna_document(name, group.name), root, environment),
                        "tags": {**group_tags(group, owner), "Name": name},
                    })


def create_instance(workspace: Workspace, group_name: str | None, key_path: Path | None, name: str | None,
                    zone: str | None, *, listener: Listener | None = None,
                    progress: Progress = lambda message: None,
                    choose: Callable[[list[str]], str] = random.choice) -> ApplyResult:
    """Launch one instance of a group: key pair from the key file, the zone given or a random one."""
    missing = [what for what, given in (("GROUP", group_name), ("--key PATH", key_path), ("--name NAME", name))
               if not given]
    if missing:
        raise FleetError(f"instance:create needs {' and '.join(missing)} "
                         f"(usage: instance:create GROUP --key PATH --name NAME [--zone ZONE])")
    assert group_name is not None and key_path is not None and name is not None  # none is missing
    group = workspace.config.group(group_name)
    if not INSTANCE_NAME.fullmatch(name):
        raise FleetError(f"--name {name!r}: use 1-64 letters, digits, '-' or '_'")
    key = key_name(key_path)
    material = public_key(key_path)
    address = f"instance.{group.name}.{name}"
    if address in workspace.backend.read().resources:
        raise FleetError(f"{address} already exists (infra state list shows it); pick another --name")
    provider = cast("InstancesProvider", workspace.providers.for_kind("instance"))
    zones = provider.zones(group.region)
    if zone is None:
        zone = choose(zones)
        progress(f"zone {zone}, chosen at random among {', '.join(zones)}")
    elif zone not in zones:
        raise FleetError(f"--zone {zone}: not an available zone of {group.region} (zones: {', '.join(zones)})")
    def import_key() -> None:
        if provider.ensure_key_pair(group.region, key, material):
            progress(f"imported key pair {key} from {key_path}")

    return engine.create_resource(workspace, instance_resource(group, name, key, zone, workspace.root,
                                                                    workspace.config.owner,
                                                                    workspace.config.environment_name),
                                  listener=listener, prepare=import_key)


def deploy(workspace: Workspace, groups: Iterable[str], batch: int, *, max_errors: str = "0",
           deadline: float = 3600, progress: Progress = lambda message: None, deployer=None) -> list:
    """Re-run chef-solo on the chosen groups' running nodes, `batch` at a time; one command per region."""
    from infra.providers.aws.ssm import Deployer, RegionDeploy

    if not 1 <= batch <= MAX_NODES:
        raise FleetError(f"-n {batch}: the batch size must be from 1 to {MAX_NODES:,}")
    if deadline <= 0:
        raise FleetError(f"--timeout {deadline:g}: give the seconds to wait, at least 1")
    most = 100 if max_errors.endswith("%") else MAX_NODES
    if not MAX_ERRORS.fullmatch(max_errors) or int(max_errors.rstrip("%")) > most:
        raise FleetError(f"--max-errors {max_errors!r}: give a number of nodes (0) or a percentage up to 100% (10%)")
    deployer = deployer or Deployer(workspace.aws_clients, workspace.config.owner)
    by_region: dict[str, list[str]] = defaultdict(list)
    for group in workspace.config.select(list(groups)):
        by_region[group.region].append(group.name)  # --region is already every group's region
    reports: list[RegionDeploy] = []
    for region, names in by_region.items():
        report = RegionDeploy(region=region, groups=names)
        reports.append(report)
        nodes = deployer.running_nodes(region, names)
        report.targets = len(nodes)
        if not nodes:
            report.note = "no running nodes"
            progress(f"{region}: no running nodes of {', '.join(names)}; nothing to deploy there")
            continue
        report.command_id = deployer.send(region, sorted(set(nodes.values()) or names), batch, max_errors,
                                          int(min(max(deadline, 30), 172800)))
        progress(f"{region}: command {report.command_id} runs chef-solo on {len(nodes)} node(s) of "
                 f"{', '.join(names)}, {batch} at a time")
        command = deployer.wait(region, report.command_id, deadline,
                                lambda m, region=region: progress(f"{region}: {m}"))
        report.status = command.get("Status", "?")
        report.targets = command.get("TargetCount", len(nodes))
        report.completed = command.get("CompletedCount", 0)
        report.errors = command.get("ErrorCount", 0)
        found, report.note = deployer.results(region, report.command_id, nodes)
        report.count_nodes(found)
    return reports
