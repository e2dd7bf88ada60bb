"""Packer runs: the variables infra hands a group's template, and the run itself.

On AWS itself packer reads the group's template as it is. For any other endpoint (the sandbox,
LocalStack) it builds from a temporary copy set up for that endpoint (`packer.for_endpoint`), kept in
`.infra/tmp/` of the ops repository while the build runs; copies a killed apply left there go at
the end of the next apply (`sweep_scratch`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from infra.errors import ProviderError
from infra.jsondump import dumps_indented
from infra.providers import packer
from infra.providers.aws.common import AwsContext
from infra.providers.aws.region_facts import region_facts
from infra.providers.base import Progress
from infra.reconciler.graph import HASH_TAG
from infra.reconciler.kinds import AMI

_building: set[str] = set()  # the template copies this process's builds use now
AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def is_aws_endpoint(endpoint_url: str) -> bool:
    """An endpoint of AWS itself (a VPC or FIPS endpoint), as opposed to moto, LocalStack and the like."""
    host = urlparse(endpoint_url).hostname or ""
    return any(host.endswith(domain) for domain in AWS_DOMAINS)


class PackerBuilds:
    def __init__(self, context: AwsContext) -> None:
        self.context, self.clients = context, context.clients

    @property
    def root(self) -> Path:
        return self.context.root

    def build(self, group: str, attributes: Mapping[str, Any], region: str, progress: Progress) -> str:
        """Build the group's AMI in `region` from its template; the id of the AMI packer made."""
        written = self.context.config.layout.packer_template(group)
        path = self.root / written
        if not path.is_file():
            raise ProviderError(f"{written} does not exist; write it with: infra packer:create {group}")
        template = packer.load_template(path)
        variables = self._variables(group, template, attributes, region, progress)
        settings = self.context.config.groups.get(group)
        try:
            result = self._run_packer(path, template, variables, progress,
                                      timeout=settings.build_timeout if settings is not None else 3600)
        except ProviderError as exc:
            source = attributes.get("source_image", "?")
            raise ProviderError(f"{written} (from {source} in {region}): {exc}") from None
        return image_in(result.artifacts, region)

    def _variables(self, group: str, template: Mapping[str, Any], attributes: Mapping[str, Any], region: str,
                   progress: Progress) -> dict[str, str]:
        """The -var values infra knows, for the variables the template declares."""
        declared = packer.declared_variables(template)
        if "source_hash" not in declared:
            progress(f"warning: {self.context.config.layout.packer_template(group)} declares no source_hash "
                     f"variable: the AMI gets no {HASH_TAG} tag, so every apply builds it again")
        values = {"source_ami": str(attributes.get("source_image", "")),
                  "source_hash": AMI.build_digest(attributes), "region": region}
        if "security_group_ids" in declared:
            settings = self.context.config.groups.get(group)
            names = settings.security_groups if settings is not None else []
            values["security_group_ids"] = ",".join(self.security_group_ids(group, names, region))
            if not names:
                progress("no security_groups: the build instance uses packer's temporary security group")
        return {name: value for name, value in values.items() if name in declared}

    def security_group_ids(self, group: str, names: Iterable[str], region: str) -> list[str]:
        """Ids for the group's security groups (names or ids): packer 1.6 launches with ids only. Names
        are looked up once a run (region_facts.py)."""
        names = list(dict.fromkeys(names))
        wanted = [n for n in names if not n.startswith("sg-")]
        found = region_facts(self.clients).security_groups(region, wanted) if wanted else {}
        missing = [n for n in wanted if n not in found]
        if missing:
            raise ProviderError(f"group {group}: security group(s) {', '.join(missing)} not found in {region}; "
                                f"create them, or change security_groups in nodes.json")
        several = [f"{n} ({', '.join(found[n])})" for n in wanted if len(found[n]) > 1]
        if several:
            raise ProviderError(f"group {group}: security group name(s) match several groups in {region}: "
                                f"{'; '.join(several)}; write the id (sg-...) in security_groups instead")
        return list(dict.fromkeys(n if n.startswith("sg-") else found[n][0] for n in names))

    def _run_packer(self, path: Path, template: Mapping[str, Any], variables: Mapping[str, str],
                    progress: Progress, timeout: float) -> packer.BuildResult:
        """Run packer on the template, or on a temporary copy of it set up for a custom endpoint."""
        env = self.clients.environment()
        endpoint = self.clients.endpoint_url
        if not endpoint:
            return packer.build(path, variables, cwd=self.root, env=env, progress=progress, timeout=timeout)
        derived, notes = packer.for_endpoint(template, endpoint, offline=not is_aws_endpoint(endpoint))
        for note in notes:
            progress(note)
        scratch = self._scratch()
        handle, name = tempfile.mkstemp(prefix=f"infra-packer-{path.stem}-", suffix=".json", dir=scratch)
        _building.add(name)
        try:
            with os.fdopen(handle, "w") as file:
                file.write(dumps_indented(derived))  # json.dump(indent=2)'s bytes, in one write
            return packer.build(Path(name), variables, cwd=self.root, env=env, progress=progress, timeout=timeout,
                                endpoint=endpoint)
        finally:
            Path(name).unlink(missing_ok=True)
            _building.discard(name)

    def _scratch(self) -> Path:
        """`.infra/tmp` of the ops repository: the templates handed to packer (see sweep_scratch)."""
        scratch = self.root / ".infra" / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        return scratch

    def sweep_scratch(self) -> list[Path]:
        """Remove the template copies of applies killed before they could (not this process's
        builds'); only one apply of a repository runs at a time (the state lock)."""
        stale = [path for path in (self.root / ".infra" / "tmp").glob("infra-packer-*.json")
                 if str(path) not in _building]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale


def image_in(artifacts: list[str], region: str) -> str:
    """The AMI id for `region` from packer's artifact ids ("us-east-1:ami-1,eu-west-1:ami-2")."""
    pairs = [part.split(":", 1) for artifact in artifacts for part in artifact.split(",") if ":" in part]
    for where, image_id in pairs:
        if where.strip() == region:
            return image_id.strip()
    if pairs:
        return pairs[0][1].strip()
    raise ProviderError(f"packer named no AMI in its output (artifacts: {', '.join(artifacts) or 'none'})")
