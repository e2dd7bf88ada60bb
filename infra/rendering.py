"""Jinja2 templates: the ones shipped in infra/templates/, overridable from the ops repository.

A file `templates/<name>` in the working directory wins over the shipped one of the same name,
so users can change the Packer template or user data without forking infra.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from infra.errors import ConfigError


@lru_cache(maxsize=8)
def environment(root: str) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(str(Path(root) / "templates")),
        jinja2.PackageLoader("infra", "templates"),
    ])
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False)


def render_text(root: Path | str, name: str, **context: Any) -> str:
    try:
        return environment(str(root)).get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error: {exc.message}", path=exc.filename or name, line=exc.lineno) from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {name}: {exc.message}") from None
    except UnicodeDecodeError as exc:  # a template of the ops repository's: the shipped ones are UTF-8
        raise ConfigError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          path=str(Path(root) / "templates" / name)) from None


def render_json(root: Path | str, name: str, **context: Any) -> Any:
    text = render_text(root, name, **context)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"template {name} did not render valid JSON: {exc.msg}", path=name,
                          line=exc.lineno, column=exc.colno) from None
