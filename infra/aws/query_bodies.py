"""A Query request's form body (EC2, Auto Scaling, STS, ...) encoded once, and quickly.

botocore serializes such a request's parameters as a dict and urlencodes it each time the request
is prepared: once to sign it and once to send it, each a `quote_plus` per name and per value (a
launch template or an ASG with its tags: 70 calls a request). Here it is encoded once, before
botocore makes the request, into the same text: a name or value made only of the characters
`quote_plus` never changes is taken as it is, any other goes through `quote_plus`. A retry makes
its request again from the same encoded body.

Installed per botocore session: `encode_once(session)`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote_plus

import botocore.session

UNCHANGED = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote_plus leaves as it is (urllib.parse's always-safe)


def form_encoded(body: dict[str, Any]) -> str | None:
    """The text botocore would send for `body`: `urlencode` of its items, as UTF-8, with `doseq`
    (a number as `str` writes it: the serializer leaves integers as they are). None when a name is
    not a string or a value neither a string nor a number: that body is left to botocore."""
    unchanged = UNCHANGED.fullmatch
    parts = []
    for name, value in body.items():
        if type(value) is not str:
            if not isinstance(value, int | float):
                return None
            value = str(value)
        if type(name) is not str:
            return None
        parts.append(f"{name if unchanged(name) else quote_plus(name)}="
                     f"{value if unchanged(value) else quote_plus(value)}")
    return "&".join(parts)


def _encode_body(params: dict[str, Any], model: Any, **_: Any) -> None:
    """before-call: a dict body becomes its text. Left to botocore: one it would compress or
    checksum (it reads those as it finds them), and one form_encoded does not write."""
    body = params.get("body")
    if (not isinstance(body, dict) or not body or model.request_compression is not None
            or params.get("context", {}).get("checksum", {}).get("request_algorithm")):
        return
    encoded = form_encoded(body)
    if encoded is not None:
        params["body"] = encoded


def encode_once(session: botocore.session.Session) -> botocore.session.Session:
    """`session`, whose clients made from now on encode their Query bodies once. Last among the
    before-call handlers (and after the operation-specific ones, which may add to the dict)."""
    session.get_component("event_emitter").register_last("before-call", _encode_body,
                                                          unique_id="infra-query-body-encoded-once")
    return session
