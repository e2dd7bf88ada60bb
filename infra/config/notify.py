"""`__settings__.notify` in nodes.json: the webhooks told what rolls and drift do (infra/notify.py)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from infra.config.fields import Strict
from infra.redact import shown_webhook

WEBHOOK_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
NOTIFY_EVENTS = ("roll started", "roll paused", "roll promoted", "roll finished", "roll rolled back", "drift found")


def _webhook(url: str) -> str:
    if not WEBHOOK_URL.fullmatch(url):
        raise ValueError(f"{shown_webhook(url)} is not an http(s) URL; give the webhook's whole URL "
                         f"(https://hooks.slack.com/services/...)")
    return url


class Notify(Strict):
    """Where infra says what rolls and drift do: webhooks that take Slack's JSON body ({"text": ...})."""

    webhooks: list[Annotated[str, AfterValidator(_webhook)]] = Field(
        ..., min_length=1, max_length=10, description="Webhook URLs (Slack incoming webhooks, or anything that "
                                                      "takes {\"text\": ...}); shown as scheme and host only.")
    events: list[Literal["roll started", "roll paused", "roll promoted", "roll finished", "roll rolled back",
                         "drift found"]] | None = Field(
        None, description="Only these events (roll started, roll paused, roll promoted, roll finished, roll "
                          "rolled back, drift found); every one when unset.")
    timeout: float = Field(5, gt=0, le=30, description="Seconds a webhook has to answer; a slow or failing one is "
                                                       "a warning, never a failed deploy.")


