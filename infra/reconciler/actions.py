"""The whole vocabulary of change: one small enum whose values are also the marks a plan shows."""

from __future__ import annotations

from enum import Enum


class ActionKind(str, Enum):
    NOOP = " "
    CREATE = "+"
    UPDATE = "~"
    REPLACE = "+/-"  # create the new one, then delete the old one: a blue/green roll
    DELETE = "-"
    BUILD = "*"  # a new artifact (an AMI) beside the old ones, which retention removes later
    ADOPT = "@"  # made by infra before owner tags: tagged as this project's, nothing else changes
    REFRESH = "<="  # the state records what exists now (--refresh-only); nothing in the world changes
    PROMOTE = ">"  # the AMI the environment before this one built from the same inputs, copied here

    @property
    def mark(self) -> str:
        return self.value

    @property
    def verb(self) -> str:
        return _VERBS[self]

    @property
    def is_change(self) -> bool:
        return self is not ActionKind.NOOP

    @property
    def is_replace(self) -> bool:
        return self is ActionKind.REPLACE

    @property
    def destroys(self) -> bool:
        return self in (ActionKind.DELETE, ActionKind.REPLACE)


_VERBS = {
    ActionKind.NOOP: "unchanged",
    ActionKind.CREATE: "created",
    ActionKind.UPDATE: "updated in place",
    ActionKind.REPLACE: "replaced (new one first, then the old one removed)",
    ActionKind.DELETE: "destroyed",
    ActionKind.BUILD: "built",
    ActionKind.ADOPT: "adopted (tagged as this project's; nothing else changes)",
    ActionKind.REFRESH: "refreshed in state (what is there now is recorded; nothing else changes)",
    ActionKind.PROMOTE: "promoted (the AMI of the environment before this one, copied; nothing is built)",
}
