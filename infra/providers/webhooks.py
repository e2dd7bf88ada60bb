"""Webhooks: where infra tells people what rolls and drift do (`__settings__.notify`).

The body is Slack's incoming-webhook JSON, `{"text": "..."}`, which Mattermost, Rocket.Chat,
Discord's /slack endpoints, Teams workflows and most chat bridges take too. A webhook is an
announcement, not a gate: one that fails, refuses or takes longer than `timeout` is one warning
line, and the deploy goes on. Its URL is its credential (Slack's path, a `?token=`), so it is shown
as scheme and host only (redact.shown_webhook).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable

from infra import __version__
from infra.redact import shown_webhook


class Webhooks:
    """Posts one line of text to every webhook, one after the other, each bounded by `timeout`."""

    def __init__(self, urls: Iterable[str], *, timeout: float) -> None:
        self.urls, self.timeout = list(urls), timeout

    def send(self, text: str) -> list[str]:
        """Tell every webhook; the warnings, one per webhook that was not told (none: all were)."""
        body = json.dumps({"text": text}).encode()
        warnings = []
        for url in self.urls:
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "User-Agent": f"infra/{__version__}"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310  (http(s) only)
                    answer.read(1024)
            except urllib.error.HTTPError as refused:
                warnings.append(f"notify: {shown_webhook(url)} answered {refused.code} {refused.reason}; the deploy "
                                f"goes on")
            except (OSError, ValueError) as failed:  # unreachable, timed out, refused, a bad URL
                reason = getattr(failed, "reason", None) or failed
                warnings.append(f"notify: {shown_webhook(url)} could not be reached ({reason}); the deploy goes on")
        return warnings
