"""One exception hierarchy, caught once at the CLI edge and printed as one line."""

from __future__ import annotations


class InfraError(Exception):
    """Base of every error infra reports to a user; its message is the whole story."""


class ConfigError(InfraError):
    """nodes.json is missing, malformed or describes something infra cannot build."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.path, self.line, self.column = path, line, column
        where = path or ""
        if path and line:
            where = f"{path}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}" if where else message)


class FileError(InfraError):
    """A file infra reads is not what it should be: not a regular file, too large, not UTF-8 text."""


class StateError(InfraError):
    """The state file is unreadable, from a newer infra, or locked by someone else."""


class StateLockedError(StateError):
    """Another apply holds the state lock."""


class StalePlanError(InfraError):
    """A saved plan no longer matches the state or nodes.json it was made against."""


class PromotionPending(InfraError):
    """An environment's plan promotes an AMI its predecessor has not built yet: apply there first.
    Exit code 3, so a pull request's CI tells this expected wait from a broken plan."""

    exit_code = 3


class RollPaused(InfraError):
    """A roll stopped at a manual pause step, as it was asked to: not a failure. The apply records it
    (`outputs`: where the roll stands) and ends with exit code 4, so CI tells a roll waiting for
    `infra rollout promote` from a broken apply (1) or a promotion waiting for a build (3)."""

    exit_code = 4

    def __init__(self, message: str, outputs: dict | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs or {}


class ProviderError(InfraError):
    """An outside system (AWS, packer, etcd, the file system) refused or failed an action."""


class ApplyFailedError(InfraError):
    """One or more actions of an apply failed; the others finished and are recorded."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `timeout`, `kill`): stop the way Ctrl-C does, so running
    actions end and are recorded and the state lock is released, instead of dying holding it."""


class RegistryError(InfraError):
    """The service registry (etcd) is unreachable, refused a change, or holds something unreadable."""
