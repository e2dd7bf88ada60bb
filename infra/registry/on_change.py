"""The action of `services:watch --exec CMD`: run CMD when what consumers see has changed.

What consumers see of each watched service is digested (see `fingerprint`) and compared with
the digests of the last successful run, kept in the watch record; CMD runs only when they
differ, gets `INFRA_CHANGED_SERVICES=api-workers,...` in its environment, and a successful run
is recorded. A failed CMD is not recorded, so the change is tried again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infra.errors import RegistryError
from infra.registry.command import check_command, run_command
from infra.registry.fingerprint import WatchRecord, changed, digests
from infra.registry.registry import Snapshot


@dataclass(frozen=True)
class CheckResult:
    """One look at the registry: what changed since the last run, and CMD's exit code if it ran."""

    changed: list[str]
    returncode: int | None = None

    @property
    def ran(self) -> bool:
        return self.returncode is not None


class RunOnChange:
    def __init__(self, services: Iterable[str], cmd: str, record: WatchRecord,
                 log: Callable[[str], None] = print) -> None:
        check_command(cmd)  # a bad or missing CMD fails now, not at the first change
        self.services = sorted(set(services))
        self.cmd, self.record, self._log = cmd, record, log

    def __call__(self, snapshot: Snapshot) -> bool:
        result = self.check(snapshot)
        return not result.ran or result.returncode == 0

    def once(self, snapshot: Snapshot) -> CheckResult:
        """One look, for cron: run CMD if anything changed since the last recorded run."""
        result = self.check(snapshot)
        if result.ran and result.returncode != 0:
            raise RegistryError(f"--exec {self.cmd!r} exited {result.returncode}")
        return result

    def check(self, snapshot: Snapshot) -> CheckResult:
        now = digests(snapshot.entries, self.services)
        different = changed(self.record.digests, now)
        if not different:
            return CheckResult([])
        self._log(f"{', '.join(different)} changed; running {self.cmd}")
        result = run_command(self.cmd, env={"INFRA_CHANGED_SERVICES": ",".join(different)})
        if result.ok:
            self.record.save(now)
        self._log(f"{self.cmd} exited {result.returncode} after {result.seconds:.1f}s")
        return CheckResult(different, result.returncode)
