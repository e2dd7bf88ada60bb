"""The project: the name of one ops repository, which owns everything infra makes from it.

Every AWS resource infra makes carries `infra:owner=<project>`, and infra only ever sees, changes
or deletes resources with its own project's tag. Two ops repositories (or two checkouts with
different names) in one account therefore never touch each other's fleets.

The name is `__settings__.project` in nodes.json. Without it, infra derives one that two
repositories do not share by accident and that every clone of the same repository agrees on:
from the git remote `origin` (`git@github.com:acme/ops.git` -> `acme-ops`, plus the folder of
nodes.json within the repository when it is not at the top), else from the folder's name and a
digest of its absolute path (a repository without a remote lives on one machine).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.redact import shown_url

# Letters, digits, '_' and '-': it is written into tag values and launch template names
# (`<project>.<group>`, at most 128 characters with a 64-character group name).
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
MAX_LENGTH = 40
GIT_TIMEOUT = 5  # seconds; git answers these from local files


@dataclass(frozen=True)
class Project:
    name: str
    source: str  # where the name came from, in words, for `infra validate` and notes

    @property
    def explicit(self) -> bool:
        return self.source == SETTING


SETTING = "__settings__.project"


def check_project_name(name: str) -> str:
    """Raise ValueError unless `name` can be a project name."""
    if not PROJECT_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a project name: use 1-{MAX_LENGTH} letters, digits, '_' or '-', "
                         f"starting with a letter or digit")
    return name


def default_project(root: Path) -> Project:
    """The project name of the ops repository at `root` when nodes.json names none."""
    root = Path(root).resolve()
    remote, prefix = _git(root, "config", "--get", "remote.origin.url"), _git(root, "rev-parse", "--show-prefix")
    if remote:
        parts = [*_repository_path(remote), *[p for p in (prefix or "").split("/") if p]]
        return Project(slug(parts), f"git remote origin {shown_url(remote)}"
                       + (f", folder {prefix.rstrip('/')}" if prefix else ""))
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:6]
    return Project(slug([root.name or "root", digest]), f"the folder {root} (no git remote origin)")


def slug(parts: list[str]) -> str:
    """Parts joined by '-', in the letters a project name allows, at most MAX_LENGTH long (a long
    name keeps its start and gets a digest of the whole, so two long names stay apart)."""
    text = "-".join(parts).lower()
    text = re.sub(r"[^a-z0-9_-]+", "-", text).strip("-_") or "project"
    if len(text) > MAX_LENGTH:
        digest = hashlib.sha256(text.encode()).hexdigest()[:6]
        text = text[:MAX_LENGTH - 7].rstrip("-_") + "-" + digest
    return text


def _repository_path(remote: str) -> list[str]:
    """`owner/name` of a remote URL (https, ssh, scp-like or a local path), without `.git`."""
    text = remote.strip().rstrip("/")
    if "://" in text:
        text = text.split("://", 1)[1].split("/", 1)[1] if "/" in text.split("://", 1)[1] else ""
    elif re.match(r"^[^/]+:", text):  # git@github.com:acme/ops.git
        text = text.split(":", 1)[1]
    text = text.removesuffix(".git")
    return [p for p in text.split("/") if p][-2:]


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
