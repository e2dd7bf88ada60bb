"""Jinja2 templates: the ones shipped in infra/templates/, overridable from the ops repository.

A file `templates/<name>` in the working directory wins over the shipped one of the same name,
so users can change the Packer template or user data without forking infra.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]  # C; in json.encoder's API
from pathlib import Path
from typing import Any

import jinja2

from infra.errors import ConfigError
from infra.shared_texts import shared_object

# Packer evaluates `{{ ... }}` in a template's strings, and renders AMI tags again and again until
# they no longer change (packer 1.6): no escape like `{{"{{"}}` survives that, so no template can
# give an AMI a literal `{{`. User text is written with a word joiner (U+2060, invisible) between
# two braces: packer leaves it alone and it reads the same; infra puts the literal text on the
# AMI's tags after the build.
PACKER_OPEN, WORD_JOINER = "{{", "\u2060"
_JOINED = re.compile(r"(?<=\{)\u2060(?=\{)")


def packer_literal(text: Any) -> str:
    """`text` as written into a Packer template: packer evaluates nothing in it."""
    text = str(text)
    while PACKER_OPEN in text:
        text = text.replace(PACKER_OPEN, "{" + WORD_JOINER + "{")
    return text


def packer_json(value: Any) -> str:
    """The jinja filter `packer_json`: a JSON string of `value` for a Packer template (what
    json.dumps writes of a string, without its generic path: a template of 10,000 groups calls it
    hundreds of thousands of times)."""
    return encode_basestring_ascii(packer_literal(value))


def packer_text(written: str) -> str | None:
    """The text a string written into a template stands for, or None when packer fills it in
    (it holds an expression, like `{{timestamp}}`)."""
    if PACKER_OPEN in written:
        return None
    return _JOINED.sub("", written)


@lru_cache(maxsize=8)
def _templates(root: str) -> tuple[jinja2.Environment, frozenset[str]]:
    """The jinja environment of the ops repository at `root`, and the names of the templates it has
    of its own (templates/): both looked at once per run, in one cache, so they never disagree."""
    own = Path(root) / "templates"
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(str(own)),
        jinja2.PackageLoader("infra", "templates"),
    ])
    # auto_reload off: a template is read once per run, not checked on disk again for every group
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False, auto_reload=False)
    env.filters["packer_json"] = packer_json
    names = frozenset(entry.name for entry in own.iterdir() if entry.is_file()) if own.is_dir() else frozenset()
    return env, names


def environment(root: str) -> jinja2.Environment:
    return _templates(root)[0]


def overridden(root: str, name: str) -> bool:
    """Whether the ops repository has its own template `name` (looked for once per run, as a
    template is read once: `environment`)."""
    return name in _templates(root)[1]


def template(root: Path | str, name: str) -> jinja2.Template:
    """The template `name` (the ops repository's own, if any). jinja keeps a template's globals as a
    ChainMap over the environment's and copies them into a new dict at every render, key by key in
    Python: 20,000 renders in a graph of 10,000 groups. Nothing changes either after loading, so
    the template gets a plain dict of the same names, once."""
    loaded = environment(str(root)).get_template(name)
    if type(loaded.globals) is not dict:
        loaded.globals = dict(loaded.globals)
    return loaded


def render_text(root: Path | str, name: str, **context: Any) -> str:
    try:
        return template(root, name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error: {exc.message}", path=exc.filename or name, line=exc.lineno) from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {name}: {exc.message}") from None
    except UnicodeDecodeError as exc:  # a template of the ops repository's: the shipped ones are UTF-8
        raise ConfigError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          path=str(Path(root) / "templates" / name)) from None


# A rendered template's keys and short texts held once: a Packer template per group repeats them all.
_SHARING = json.JSONDecoder(object_hook=shared_object)


def render_json(root: Path | str, name: str, **context: Any) -> Any:
    text = render_text(root, name, **context)
    try:
        return _SHARING.decode(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"template {name} did not render valid JSON: {exc.msg}", path=name,
                          line=exc.lineno, column=exc.colno) from None
