"""Local files in the ops repository: Chef roles, Packer templates and dna files.

Besides the files asked about, it finds the ones infra made that nobody asks about any more (a
removed group's, after the state lost them): every `dna/asg/<group>.json` (that directory is
infra's), and each `packer/<group>.json` whose builders carry the `infra:managed` tag; in an
environment, those in its folders (`dna/<env>/asg/`, `packer/<env>/`) alone. Roles are never
taken for orphans: an ops repository may hold roles written by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from infra import jsontext
from infra.config.layout import Layout
from infra.config.models import GROUP_NAME
from infra.errors import FileError, ProviderError
from infra.fsutil import MiB, atomic_write_json, inside_repository, read_text
from infra.jsontext import JsonProblem
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import same
from infra.reconciler.graph import MANAGED_TAG
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observation, Observed, Resource, address_of

MAX_FILE_BYTES = 64 * MiB


class FilesProvider:
    kinds = frozenset({"role", "packer_template", "dna"})

    def __init__(self, root: Path, layout: Layout = Layout()) -> None:
        self.root = Path(root)
        # Where orphans are looked for: folders that are infra's (an environment's, with environments).
        self.orphan_directories = {"dna": layout.asg_dna, "packer_template": layout.packer}

    def observe(self, resources: list[Resource]) -> Observation:
        observed: dict[str, Observed] = {}
        folders: dict[str, bool] = {}  # folder -> is there: a new repository's files are in folders not made yet
        for resource in resources:
            path = resource.attributes.get("path")
            if not path:
                continue
            path = _inside(resource.address, path)
            folder = os.path.dirname(path)
            if folder not in folders:
                folders[folder] = os.path.lexists(os.path.join(str(self.root), folder))
            found = self._read(path, resource.attributes.get("document")) if folders[folder] else None
            if found is not None:
                observed[resource.address] = found
        asked = {resource.address for resource in resources}
        for kind, directory in self.orphan_directories.items():
            for address, found in self._orphans(kind, directory, asked):
                observed[address] = found
        return Observation(found=observed)

    def _read(self, path: str, wanted: Any = None) -> Observed | None:
        """The file's document; the `wanted` one itself when they are equal (no second copy held: a
        plan of 10,000 groups reads 30,000 files)."""
        try:  # os.path, not pathlib: a thousand groups are thousands of files
            text = read_text(os.path.join(str(self.root), path), limit=MAX_FILE_BYTES, what="its files")
        except FileNotFoundError:
            return None
        except FileError as exc:
            raise ProviderError(f"{exc}; fix or remove it") from None
        try:
            document: Any = jsontext.loads(text)
        except (json.JSONDecodeError, JsonProblem):
            document = text  # not JSON (infra could write) any more: shows as a change of the whole document
        if same(document, wanted):
            document = wanted
        return Observed.of({"path": path, "document": document}, {"path": path})

    def _orphans(self, kind: str, directory: str, asked: set[str]):
        try:
            names = sorted(os.listdir(os.path.join(str(self.root), directory)))
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            group, extension = os.path.splitext(name)
            address = address_of(kind, group)
            path = f"{directory}/{name}"
            if extension != ".json" or not GROUP_NAME.fullmatch(group) or address in asked \
                    or not os.path.isfile(os.path.join(str(self.root), path)):
                continue
            try:
                found = self._read(path)
            except ProviderError:
                continue  # one that cannot be read is no reason to fail: it is only a candidate
            if found is not None and (kind != "packer_template" or _made_by_infra(found.attributes["document"])):
                yield address, found

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        if action.action is ActionKind.DELETE:
            path = (action.before or {}).get("path")
            if path:
                (self.root / _inside(action.address, path)).unlink(missing_ok=True)
                progress(f"removed {path}")
            return {}
        path = _inside(action.address, attributes["path"])
        try:
            atomic_write_json(self.root / path, attributes["document"])
        except OSError as exc:
            raise ProviderError(f"{path}: cannot write: {exc.strerror}") from None
        progress(f"wrote {path}")
        return {"path": path}


def _inside(address: str, path: Any) -> str:
    """The file's path, refused when it is outside the repository (only a damaged or edited state,
    or saved plan, can say so: nodes.json names files by group)."""
    try:
        return inside_repository(str(path))
    except ValueError as exc:
        raise ProviderError(f"{address}: {exc}; the state (or saved plan) is damaged or was edited: forget the "
                            f"entry with infra state rm {address}") from None


def _made_by_infra(template: Any) -> bool:
    """A Packer template infra rendered: a builder tags what it makes as infra's."""
    builders = template.get("builders") if isinstance(template, dict) else None
    return any(isinstance(b, dict) and isinstance(b.get("tags"), dict) and b["tags"].get(MANAGED_TAG) == "true"
               for b in builders or [])
