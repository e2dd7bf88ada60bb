"""What a watcher has already acted on: a digest per watched service of what consumers see.

The digest covers exactly what `services:collect` and `services:render` expose (the nodes where
a service is up, with address and group), not etcd revisions or leases. So a re-notify that
writes nothing new, a lease renewal, or the removal of an entry that was already `leaving`
does not run CMD again, while a node joining, moving or starting to leave does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.errors import RegistryError
from infra.fsutil import atomic_write_json
from infra.registry.entry import Entry
from infra.registry.keys import check_node_id


def digests(entries: Iterable[Entry], services: Iterable[str]) -> dict[str, str]:
    """sha256 of the up entries of each service, in a stable order."""
    entries = list(entries)
    result: dict[str, str] = {}
    for service in sorted(set(services)):
        seen = sorted((entry.where() for entry in entries if entry.service == service and entry.is_up),
                      key=lambda where: where["node"])
        result[service] = hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()
    return result


def changed(before: dict[str, str] | None, after: dict[str, str]) -> list[str]:
    """Services whose digest differs; every service when nothing was recorded yet."""
    if before is None:
        return sorted(after)
    return sorted(service for service in after if before.get(service) != after[service])


@dataclass
class WatchRecord:
    """The digests CMD last ran successfully with, kept in a small JSON file.

    Kept on disk so a restarted agent, or `services:watch --once` from cron, runs CMD only when
    something changed since the last successful run, not at every start.
    """

    path: Path
    digests: dict[str, str] | None = None
    ran_at: str | None = None

    @classmethod
    def load(cls, path: Path) -> WatchRecord:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{path}: cannot read the watch record ({exc}); delete it to start afresh") from None
        if not isinstance(data, dict) or not isinstance(data.get("digests"), dict):
            raise RegistryError(f"{path}: is not a watch record; delete it to start afresh")
        return cls(path, digests=dict(data["digests"]), ran_at=data.get("ran_at"))

    def save(self, digests: dict[str, str]) -> None:
        self.digests = dict(digests)
        self.ran_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            atomic_write_json(self.path, {"digests": self.digests, "ran_at": self.ran_at})
        except OSError as exc:
            raise RegistryError(f"{self.path}: cannot write the watch record ({exc.strerror or exc}); "
                                f"pass --record PATH somewhere writable") from None


def default_record_path(group: str, node: str) -> Path:
    """Per group and node, so agents for several groups on one machine keep separate records. The
    group is one of nodes.json and the node id a plain name ('../../x' is refused), so the record
    stays in .infra/watch/."""
    return Path(".infra") / "watch" / f"{group}-{check_node_id(node)}.json"
