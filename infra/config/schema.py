"""JSON Schema of nodes.json, derived from the models so it never drifts from them."""

from __future__ import annotations

from typing import Any

from infra.config.models import MAX_GROUP_NAME, GroupSettings, Settings


def nodes_json_schema() -> dict[str, Any]:
    group = GroupSettings.model_json_schema(ref_template="#/$defs/{model}")
    defs = group.pop("$defs", {})
    settings = Settings.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(settings.pop("$defs", {}))
    defs["Settings"] = settings
    partial = {**group, "required": []}
    defs["GroupSettings"] = group
    defs["BaseSettings"] = partial
    autoscale = group["properties"]["autoscale"]
    autoscale.pop("default", None)
    for key in ("anyOf",):
        autoscale[key] = [{"const": False}, {"$ref": "#/$defs/Autoscale"}]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "infra nodes.json",
        "type": "object",
        "properties": {
            "__base__": {"$ref": "#/$defs/BaseSettings"},
            "__settings__": {"$ref": "#/$defs/Settings"},
        },
        "patternProperties": {f"^[A-Za-z0-9_-]{{1,{MAX_GROUP_NAME}}}$": {"$ref": "#/$defs/BaseSettings"}},
        "additionalProperties": False,
        "$defs": defs,
    }
