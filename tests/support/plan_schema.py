"""The plan JSON Schema, read from docs/plan-json.md (so the page and the tests cannot drift apart),
and the check that holds every plan the test suite makes to it.

The page is the one place the schema lives: a reader finds it there, and the suite validates
against that very text. `watch_every_plan` (installed for the whole suite by tests/conftest.py)
wraps the two doors a plan leaves infra by, the document (`plan_document`, behind `--output json`
and `plan --out`) and the engine's plan (`make_plan`, even one printed only as text), so a plan
some test makes for another reason (a kill, a leftover, a rename) is checked too.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DOC = Path(__file__).resolve().parents[2] / "docs" / "plan-json.md"


@lru_cache(maxsize=1)
def plan_schema() -> dict:
    text = DOC.read_text()
    section = text[text.index("## JSON Schema"):]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block, "docs/plan-json.md has no ```json block under ## JSON Schema"
    schema = json.loads(block.group(1))
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(plan_schema())


def schema_errors(document: dict) -> list[str]:
    """Every way `document` breaks the schema, as `path: message` (none when it is a valid plan)."""
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


class PlanWatch:
    """What the suite's plans broke: (where the plan came from, its first errors), for the test running."""

    def __init__(self) -> None:
        self.broken: list[tuple[str, list[str]]] = []

    def check(self, document: dict, source: str) -> None:
        if not _validator().is_valid(document):
            self.broken.append((source, schema_errors(document)[:5]))

    def take(self) -> list[tuple[str, list[str]]]:
        broken, self.broken = self.broken, []
        return broken


def _rebind(original: Callable, wrapper: Callable) -> Iterator[tuple[Any, str, Callable]]:
    """Point every infra (and test) module's name for `original` at `wrapper`; yields what to put back."""
    for name, module in list(sys.modules.items()):
        if name == "infra" or name.startswith(("infra.", "tests.")):
            for attribute, value in list(vars(module).items()):
                if value is original:
                    setattr(module, attribute, wrapper)
                    yield module, attribute, original


def watch_every_plan(watch: PlanWatch) -> Callable[[], None]:
    """Validate every plan document and every engine plan made from now on; returns the undo."""
    import infra.cli  # noqa: F401  (imports every command's modules, so every binding is found)
    from infra import engine
    from infra.reconciler import plan_json

    document_of = plan_json.plan_document

    @functools.wraps(document_of)
    def checked_document(plan: Any, **options: Any) -> dict:
        document = document_of(plan, **options)
        watch.check(document, "plan_document")
        return document

    def checked_plan(make: Callable) -> Callable:
        @functools.wraps(make)
        def checked(*args: Any, **kwargs: Any) -> Any:
            made = make(*args, **kwargs)
            watch.check(document_of(made), f"engine.{make.__name__}")
            return made
        return checked

    undo = list(_rebind(document_of, checked_document))
    for make in (engine.make_plan, engine.make_refresh_plan):
        undo += _rebind(make, checked_plan(make))

    def restore() -> None:
        for module, name, original in undo:
            setattr(module, name, original)
    return restore
