"""Local files in the ops repository: Chef roles, Packer templates and dna files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from infra.errors import ProviderError
from infra.fsutil import atomic_write_json
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observed, Resource


class FilesProvider:
    kinds = frozenset({"role", "packer_template", "dna"})

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def observe(self, resources: list[Resource]) -> dict[str, Observed]:
        observed: dict[str, Observed] = {}
        root = str(self.root)  # os.path, not pathlib: a thousand groups are thousands of files
        for resource in resources:
            path = resource.attributes.get("path")
            if not path:
                continue
            try:
                with open(os.path.join(root, path)) as file:
                    text = file.read()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ProviderError(f"{path}: cannot read: {exc.strerror}") from None
            try:
                document: Any = json.loads(text)
            except json.JSONDecodeError:
                document = text  # not JSON any more: shows as a change of the whole document
            observed[resource.address] = Observed(attributes={"path": path, "document": document},
                                                  outputs={"path": path})
        return observed

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        if action.action is ActionKind.DELETE:
            path = (action.before or {}).get("path")
            if path:
                (self.root / path).unlink(missing_ok=True)
                progress(f"removed {path}")
            return {}
        path = attributes["path"]
        try:
            atomic_write_json(self.root / path, attributes["document"])
        except OSError as exc:
            raise ProviderError(f"{path}: cannot write: {exc.strerror}") from None
        progress(f"wrote {path}")
        return {"path": path}
