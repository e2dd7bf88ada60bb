"""Every XML answer infra reads in the suite, read twice: by infra's compiled readers
(infra/aws/xml_answers.py) and by botocore's own parser; any difference is kept for the test to fail.

A faster reading that differed from botocore's even in one key's order, one type or one zone
would change what infra plans, so the whole suite's answers (moto's, of every operation the
tests make) are the comparison's corpus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore import parsers

from infra.aws import xml_answers


def _shown(value: Any) -> str:
    """A parsed answer with every type and zone spelled out (== alone takes tzlocal for tzutc)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_shown(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return f"{type(value).__name__}:{value!r}"


class AnswerWatch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._differences: list[str] = []

    def compare(self, protocol: str, response: dict[str, Any], shape: Any, parsed: Any) -> None:
        expected = parsers.PROTOCOL_PARSERS[protocol]().parse(dict(response), shape)
        if _shown(parsed) != _shown(expected):
            with self._lock:
                self._differences.append(f"{getattr(shape, 'name', None)}: compiled {_shown(parsed)[:300]} "
                                         f"!= botocore {_shown(expected)[:300]}")

    def take(self) -> list[str]:
        with self._lock:
            taken, self._differences = self._differences, []
        return taken


def watch_every_answer(watch: AnswerWatch) -> Callable[[], None]:
    """Compare every answer the compiled parsers read from now on; returns what undoes it."""
    originals = {protocol: cls.parse for protocol, cls in xml_answers.ParserFactory.FASTER.items()}

    def watched(protocol: str) -> Callable[..., Any]:
        def parse(self: Any, response: dict[str, Any], shape: Any) -> Any:
            parsed = originals[protocol](self, response, shape)
            watch.compare(protocol, response, shape, parsed)
            return parsed
        return parse

    for protocol, cls in xml_answers.ParserFactory.FASTER.items():
        cls.parse = watched(protocol)  # type: ignore[method-assign]

    def restore() -> None:
        for protocol, cls in xml_answers.ParserFactory.FASTER.items():
            cls.parse = originals[protocol]  # type: ignore[method-assign]
    return restore
