"""The plan JSON Schema, read from docs/plan-json.md (so the page and the tests cannot drift apart)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

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


def schema_errors(document: dict) -> list[str]:
    """Every way `document` breaks the schema, as `path: message` (none when it is a valid plan)."""
    validator = Draft202012Validator(plan_schema())
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]
