"""JSON Schema of nodes.json, derived from the models so it never drifts from them."""

from __future__ import annotations

from typing import Any

from infra.config.environments import ENVIRONMENT_NAME, MAX_ENVIRONMENT_NAME, EnvironmentSettings
from infra.config.models import MAX_GROUP_NAME, GroupSettings, Settings

GROUP_KEY = f"^(?!__)[A-Za-z0-9_-]{{1,{MAX_GROUP_NAME}}}$"  # `__...` keys are infra's own


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
    defs["Environment"] = _environment(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "infra nodes.json",
        "type": "object",
        "properties": {
            "$schema": {"type": "string", "description": "Where editors find this schema; infra ignores it."},
            "__base__": {"$ref": "#/$defs/BaseSettings"},
            "__settings__": {"$ref": "#/$defs/Settings"},
            "__environments__": {
                "type": "object", "minProperties": 1, "additionalProperties": False,
                "patternProperties": {f"^{ENVIRONMENT_NAME.pattern}$": {"$ref": "#/$defs/Environment"}},
                "propertyNames": {"maxLength": MAX_ENVIRONMENT_NAME},
            },
        },
        "patternProperties": {GROUP_KEY: {"$ref": "#/$defs/BaseSettings"}},
        "additionalProperties": False,
        "$defs": defs,
    }


def _environment(defs: dict[str, Any]) -> dict[str, Any]:
    """An environment: any group setting (over __base__), and its own keys (aws, state, groups)."""
    own = EnvironmentSettings.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(own.pop("$defs", {}))
    own["properties"]["groups"]["additionalProperties"] = {"$ref": "#/$defs/BaseSettings"}
    return {**defs["BaseSettings"], "properties": {**defs["BaseSettings"]["properties"], **own["properties"]}}
