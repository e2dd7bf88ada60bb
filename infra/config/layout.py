"""Where infra writes a group's files in the ops repository: roles, Packer templates, dna files.

An environment's files are in folders of its name (`roles/staging/role-web.json`), so every file
belongs to one environment's state: no environment's plan rewrites or deletes a file another one
needs, even where their contents would be the same. Without environments, the seed's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config.chef import role_name


@dataclass(frozen=True)
class Layout:
    environment: str | None = None

    def _in(self, folder: str) -> str:
        return f"{folder}/{self.environment}" if self.environment else folder

    @property
    def roles(self) -> str:
        """The folder of the Chef roles: chef-solo's `roles_path` when packer builds."""
        return self._in("roles")

    @property
    def packer(self) -> str:
        return self._in("packer")

    @property
    def dna(self) -> str:
        return self._in("dna")

    @property
    def asg_dna(self) -> str:
        return f"{self.dna}/asg"

    def role(self, group: str) -> str:
        return f"{self.roles}/{role_name(group)}.json"

    def packer_template(self, group: str) -> str:
        return f"{self.packer}/{group}.json"

    def group_dna(self, group: str) -> str:
        """The dna file of a group's autoscaling group."""
        return f"{self.asg_dna}/{group}.json"

    def instance_dna(self, group: str, instance_id: str) -> str:
        """The dna file of a one-off instance."""
        return f"{self.dna}/{group}-{instance_id}.json"
