"""What rolls and drift do, told to `__settings__.notify`'s webhooks (providers/webhooks.py).

Events: roll started, roll paused, roll promoted, roll finished, roll rolled back (a gate failed, or
infra rollout abort), drift found. The apply's listener sees every action start, pause, finish or
fail; `Notifying` wraps it and tells the webhooks about the actions that roll an ASG (or go on
with, or undo, a paused roll), so every command that applies (apply, autoscale:update, rollback,
rollout promote and abort) announces the same way. A webhook that fails is a warning in the
apply's output, never a failed action.
"""

from __future__ import annotations

from infra.config.notify import Notify
from infra.providers.webhooks import Webhooks
from infra.reconciler.drift import DriftReport
from infra.reconciler.executor import Listener
from infra.reconciler.plan import Action
from infra.reconciler.rolls import roll_of


class Announcer:
    """Sends an event's line, prefixed with the project (and environment), when notify asks for it."""

    def __init__(self, settings: Notify | None, owner: str) -> None:
        self.settings, self.owner = settings, owner
        self.hooks = Webhooks(settings.webhooks, timeout=settings.timeout) if settings else None

    def tell(self, event: str, text: str) -> list[str]:
        """Send `text` when notify wants `event`; the warnings of webhooks that were not told."""
        if self.hooks is None or (self.settings and self.settings.events is not None
                                  and event not in self.settings.events):
            return []
        return self.hooks.send(f"[{self.owner}] {text}")

    def drift(self, report: DriftReport) -> list[str]:
        if not report.has_drift:
            return []
        changed = ", ".join(item.address for item in report.drifted)
        held = "; ".join(f"{item.address}: {item.reason}" for item in report.held)
        parts = [f"{len(report.drifted)} of {report.checked} resource(s) changed outside infra ({changed})"
                 if report.drifted else "", f"held back from nodes.json: {held}" if held else ""]
        return self.tell("drift found", "drift found: " + "; ".join(part for part in parts if part))


class Notifying:
    """An apply listener that tells the announcer about rolls, and passes everything on to `inner`."""

    def __init__(self, inner: Listener, announcer: Announcer) -> None:
        self.inner, self.announcer = inner, announcer

    def started(self, action: Action) -> None:
        self.inner.started(action)
        if action.roll_command == "promote":
            self._tell(action, "roll promoted", f"roll of {action.address} promoted: {action.reason}")
        elif _rolls(action) and not action.roll_command:
            roll = roll_of(action)
            self._tell(action, "roll started", f"roll of {action.address} started: {action.reason}"
                       + (f"; {roll.summary()}" if roll else ""))

    def progress(self, action: Action, message: str) -> None:
        self.inner.progress(action, message)

    def flush(self) -> None:
        self.inner.flush()

    def finished(self, action: Action, seconds: float) -> None:
        self.inner.finished(action, seconds)
        if action.roll_command == "abort":
            self._tell(action, "roll rolled back", f"roll of {action.address} rolled back: {action.reason}")
        elif _rolls(action):
            self._tell(action, "roll finished", f"roll of {action.address} finished in {seconds:.0f} s")

    def failed(self, action: Action, error: str, seconds: float) -> None:
        self.inner.failed(action, error, seconds)
        if _rolls(action):
            self._tell(action, "roll rolled back", f"roll of {action.address} failed after {seconds:.0f} s: {error}")

    def skipped(self, action: Action, because: str) -> None:
        self.inner.skipped(action, because)

    def paused(self, action: Action, where: str) -> None:
        self.inner.paused(action, where)
        if _rolls(action):
            self._tell(action, "roll paused", f"roll of {action.address} paused: {where}")

    def _tell(self, action: Action, event: str, text: str) -> None:
        """Tell the webhooks; a warning (one that was not told) is one of the action's progress lines."""
        for warning in self.announcer.tell(event, text):
            self.inner.progress(action, warning)


def _rolls(action: Action) -> bool:
    return roll_of(action) is not None or bool(action.roll_command)
