"""Render a jinja2 template (haproxy.cfg) from the registry; put it in place only on change.

Reloading haproxy drops nothing but still costs a fork and new health checks, and a watcher
may render many times for changes that do not touch this file; so the file is compared first
and nothing runs unless its content changed. How a changed file is checked, swapped and
reloaded is `reconfigure`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from infra.errors import InfraError, RegistryError
from infra.registry.entry import Entry
from infra.registry.reconfigure import Applied, Reconfigure, apply_text, dry_run
from infra.registry.registry import Snapshot
from infra.registry.screen import Resolver, resolves, screen, server_name


def template_context(snapshot: Snapshot, services: Iterable[str] | None = None,
                     variables: dict[str, str] | None = None, *, resolve: Resolver | None = resolves,
                     left_out: Callable[[str], None] | None = None) -> dict[str, Any]:
    """What a template sees: only entries it can render safely (screen.py); `left_out` is told of
    each other one (and of each unreadable key) of the services rendered, one line each.

    - `services`: {service: [{"node", "server", "group", "address", "host", "port"}, ...]}, nodes
      where it is up, sorted by node; `server` is haproxy's name for the node, unique in a backend;
      only `services` when given (a group's depends_on), else every one.
    - `entries`: every entry, leaving ones included, with "service" and "state".
    - `vars`: the --var NAME=VALUE pairs.
    Nothing that changes on its own (revisions, times) is offered, so unchanged input renders
    byte for byte the same file.
    """
    wanted = None if services is None else set(services)
    relevant = [entry for entry in snapshot.entries if wanted is None or entry.service in wanted]
    screened = screen(relevant, resolve)
    if left_out is not None:
        for key in snapshot.unreadable:
            if wanted is None or any(f"/services/{name}/" in key for name in wanted):
                left_out(f"left out the unreadable registry key {key}: re-run services:notify on that node or "
                         f"delete the key")
        for dropped in screened.left_out:
            left_out(str(dropped))
    safe = Snapshot(screened.entries, snapshot.revision)
    up = safe.by_service(up_only=True)
    names = sorted(wanted) if wanted is not None else sorted({entry.service for entry in safe.entries})
    return {
        "services": {name: [_where(entry) for entry in up.get(name, [])] for name in names},
        "entries": [entry.describe() for entry in screened.entries],
        "vars": dict(variables or {}),
    }


def _where(entry: Entry) -> dict[str, Any]:
    return {**entry.where(), "server": server_name(entry.node)}


def find_template(name: str | Path) -> Path:
    """A template path as given, or the name of one shipped with infra (haproxy.cfg.j2)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = resources.files("infra") / "templates" / path.name
    if shipped.is_file():
        return Path(str(shipped))
    raise RegistryError(f"template {str(name)!r} not found (infra ships: haproxy.cfg.j2)")


class _Utf8Loader(jinja2.FileSystemLoader):
    """jinja2 reads templates as UTF-8 and lets a bare UnicodeDecodeError out, naming no file;
    this names the file (the template or one it includes)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError as exc:
            path = Path(self.searchpath[0]) / template
            raise RegistryError(f"{path}: is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                                f"{exc.start}); save the template as UTF-8") from None


def render_template(template: Path, context: dict[str, Any]) -> str:
    environment = jinja2.Environment(loader=_Utf8Loader(str(template.parent)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=True, lstrip_blocks=True, autoescape=False)
    try:
        return environment.get_template(template.name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise RegistryError(f"{template}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise RegistryError(f"{template}: {exc}") from None


def render(snapshot: Snapshot, template: str | Path, out: Path, how: Reconfigure = Reconfigure(), *,
           services: Iterable[str] | None = None, variables: dict[str, str] | None = None,
           progress: Callable[[str], None] | None = None, left_out: Callable[[str], None] | None = None,
           resolve: Resolver | None = resolves) -> Applied:
    """Render, and when the text differs from FILE's, check, swap and reload (see `reconfigure`)."""
    how.validate()
    text = render_text(snapshot, template, services, variables, left_out=left_out, resolve=resolve)
    return apply_text(Path(out), text, how, progress)


def render_text(snapshot: Snapshot, template: str | Path, services: Iterable[str] | None = None,
                variables: dict[str, str] | None = None, *, left_out: Callable[[str], None] | None = None,
                resolve: Resolver | None = resolves) -> str:
    """The template, read afresh (an edited template takes effect at the next render), rendered."""
    context = template_context(snapshot, services, variables, resolve=resolve, left_out=left_out)
    return render_template(find_template(template), context)


class RenderOnChange:
    """The action of `services:render --watch`: render at every change; a failure is logged, the
    running file stays, and the watch loop tries again later. An entry left out is logged at each
    render (a render follows a change only), and the others are rendered."""

    def __init__(self, template: str | Path, out: Path, how: Reconfigure, *, services: Iterable[str] | None,
                 variables: dict[str, str], log: Callable[[str], None],
                 dry: Callable[[str, list[str]], None] | None = None) -> None:
        how.validate()
        find_template(template)
        self.template, self.out, self.how, self._log, self._dry = template, Path(out), how, log, dry
        self.services = None if services is None else list(services)
        self.variables = variables

    def __call__(self, snapshot: Snapshot) -> bool:
        try:
            text = render_text(snapshot, self.template, self.services, self.variables, left_out=self._log)
            if self._dry is not None:
                self._dry(text, dry_run(self.out, text, self.how))
                return True
            applied = apply_text(self.out, text, self.how, progress=self._log)
        except InfraError as exc:
            self._log(f"{exc}")
            return False
        if applied.changed:
            self._log(f"wrote {self.out}" + "".join(f"; {what}" for what in applied.ran))
        return True


def parse_variables(pairs: Iterable[str]) -> dict[str, str]:
    """--var NAME=VALUE, repeated."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise RegistryError(f"--var {pair!r} is not NAME=VALUE")
        result[name] = value
    return result
