"""Render a jinja2 template (haproxy.cfg) from the registry; write and reload only on change.

Reloading haproxy drops nothing but still costs a fork and new health checks, and a watcher
may render many times for changes that do not touch this file; so the file is compared first
and CMD runs only when its content changed. The write is atomic: haproxy never reads half.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable

import jinja2

from infra.errors import RegistryError
from infra.fsutil import atomic_write_text
from infra.registry.command import CommandResult, check_command, run_command
from infra.registry.registry import Snapshot


@dataclass(frozen=True)
class RenderResult:
    path: Path
    changed: bool
    command: CommandResult | None


def template_context(snapshot: Snapshot, services: Iterable[str] | None = None,
                     variables: dict[str, str] | None = None) -> dict[str, Any]:
    """What a template sees.

    - `services`: {service: [{"node", "group", "address", "host", "port"}, ...]}, nodes where it
      is up, sorted by node; only `services` when given (a group's depends_on), else every one.
    - `entries`: every entry, leaving ones included, with "service" and "state".
    - `vars`: the --var NAME=VALUE pairs.
    Nothing that changes on its own (revisions, times) is offered, so unchanged input renders
    byte for byte the same file.
    """
    wanted = None if services is None else set(services)
    up = snapshot.by_service(up_only=True)
    names = sorted(wanted) if wanted is not None else sorted({entry.service for entry in snapshot.entries})
    return {
        "services": {name: [entry.where() for entry in up.get(name, [])] for name in names},
        "entries": [entry.describe() for entry in sorted(snapshot.entries, key=lambda e: (e.service, e.node))
                    if wanted is None or entry.service in wanted],
        "vars": dict(variables or {}),
    }


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


def read_text(path: Path) -> str | None:
    """The file's text; None when it is missing or unreadable (it will be overwritten)."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def render(snapshot: Snapshot, template: str | Path, out: Path, *, exec_cmd: str | None = None,
           services: Iterable[str] | None = None, variables: dict[str, str] | None = None) -> RenderResult:
    """Render, write atomically when the text differs, then run CMD.

    When CMD fails (haproxy refused the new file), the previous file is put back, so haproxy's
    file and haproxy agree and the next render tries the change again instead of finding
    nothing to do. A CMD that cannot be found fails before anything is written: a file written
    without its reload would read as "unchanged" next time, and the reload would never happen.
    """
    out = Path(out)
    if exec_cmd is not None:
        check_command(exec_cmd)
    text = render_template(find_template(template), template_context(snapshot, services, variables))
    before = read_text(out)
    if before == text:
        return RenderResult(out, False, None)
    _write(out, text)
    command = run_command(exec_cmd) if exec_cmd else None
    if command is not None and not command.ok:
        if before is None:
            out.unlink(missing_ok=True)
        else:
            _write(out, before)
        raise RegistryError(f"--exec {' '.join(command.argv)!r} exited {command.returncode}; "
                            f"put the previous {out} back, so the next render tries again")
    return RenderResult(out, True, command)


def _write(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise RegistryError(f"cannot write {path}: {exc.strerror or exc}") from None


def parse_variables(pairs: Iterable[str]) -> dict[str, str]:
    """--var NAME=VALUE, repeated."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise RegistryError(f"--var {pair!r} is not NAME=VALUE")
        result[name] = value
    return result
