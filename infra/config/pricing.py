"""On-demand EC2 prices: what a node of a given type costs an hour in a region.

infra ships a table (`infra/data/ec2-prices.json`) that says how old it is and where it comes
from; `ec2-prices.json` in the ops repository overrides and extends it, price by price (a team
adds its region, or puts in what its account really pays). A type neither table prices has no
price: nothing here guesses one, and every report says "no price" for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from infra import jsontext
from infra.config.models import check_region
from infra.errors import ConfigError, FileError
from infra.fsutil import read_text

HOURS_PER_MONTH = 730  # what AWS's own calculators take a month to be
OVERRIDE_FILE = "ec2-prices.json"
SHIPPED = "infra's table"
MAX_BYTES = 16 * 1024 * 1024
INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9-]+")
# Sizes in the order of their capacity within a family; `<n>xlarge` sorts by n, `metal` last.
_SIZES = ["nano", "micro", "small", "medium", "large", "xlarge"]


def _region(name: str) -> str:
    check_region(name)
    return name


def _date(text: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"{text!r} is not a date like 2026-11-30 (when the prices were taken)")
    return text


def _instance_type(name: str) -> str:
    if not INSTANCE_TYPE.fullmatch(name):
        raise ValueError(f"{name!r} is not an EC2 instance type (family.size, like m5.large)")
    return name


class PriceFile(BaseModel):
    """The format of a price table: `hourly` prices by region, then instance type."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    date: Annotated[str, AfterValidator(_date)] = Field(..., description="When the prices were taken.")
    source: str = Field(..., min_length=1, description="Where they come from, and on what terms.")
    note: str = ""
    currency: Literal["USD"] = "USD"
    hourly: dict[Annotated[str, AfterValidator(_region)],
                 dict[Annotated[str, AfterValidator(_instance_type)], Annotated[float, Field(gt=0, lt=1000)]]]


class PriceSource(BaseModel):
    """Which table priced a report: shown with it, so a reader knows how old the prices are."""

    file: str
    date: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    hourly: dict[str, dict[str, float]] = field(default_factory=dict)
    sources: tuple[PriceSource, ...] = ()
    currency: str = "USD"

    def price(self, region: str, instance_type: str) -> float | None:
        """The on-demand price of one node an hour; None when no table has it."""
        return self.hourly.get(region, {}).get(instance_type)

    def monthly(self, region: str, instance_type: str, nodes: int = 1) -> float | None:
        """`nodes` nodes for a month; no nodes cost nothing, priced or not."""
        if nodes == 0:
            return 0.0
        hourly = self.price(region, instance_type)
        return None if hourly is None else round(nodes * hourly * HOURS_PER_MONTH, 2)

    def neighbour(self, region: str, instance_type: str, step: int) -> str | None:
        """The next priced size down (`step` -1) or up (+1) in the same family and region, if any."""
        family, _, size = instance_type.partition(".")
        rank = size_rank(size)
        if rank is None:
            return None
        ranked = [(size_rank(other.partition(".")[2]), other) for other in self.hourly.get(region, {})
                  if other.partition(".")[0] == family]
        sizes = sorted((r, other) for r, other in ranked if r is not None)
        below = [name for r, name in sizes if r < rank]
        above = [name for r, name in sizes if r > rank]
        chosen = below[-1:] if step < 0 else above[:1]
        return chosen[0] if chosen else None

    def described(self) -> str:
        return described(self.sources)


def described(sources: Iterable[PriceSource]) -> str:
    """One line naming price tables: `infra's table (2026-11-30: AWS EC2 On-Demand prices, ...)`."""
    return "; ".join(f"{s.file} ({s.date}: {s.source})" for s in sources) or "no price table"


def dollars(amount: float | None, *, signed: bool = False) -> str:
    """`$1,234.56` (`+$1.00` / `-$1.00` when `signed`); `no price` for None. Cents below one show
    as far as they matter: `$0.0104` an hour."""
    if amount is None:
        return "no price"
    sign = ("+" if amount > 0 else "-" if amount < 0 else "") if signed else ("-" if amount < 0 else "")
    size = abs(amount)
    shown = f"{size:,.2f}" if size >= 1 or size == 0 or round(size, 2) == size else f"{size:.4f}".rstrip("0")
    return f"{sign}${shown}"


def size_rank(size: str) -> float | None:
    """Where a size stands in its family: nano < micro < ... < xlarge < 2xlarge < ... < metal."""
    if size in _SIZES:
        return float(_SIZES.index(size))
    match = re.fullmatch(r"([0-9]+)xlarge", size)
    if match:
        return len(_SIZES) - 1 + float(match.group(1)) - 1 + 0.5  # 2xlarge just above xlarge
    return 1000.0 if size == "metal" else None


def load_prices(root: Path | str) -> PriceTable:
    """infra's table, with `ec2-prices.json` of the ops repository at `root` over it, price by price."""
    shipped = resources.files("infra").joinpath("data", "ec2-prices.json").read_text()
    tables = [(SHIPPED, parse_prices(shipped, SHIPPED))]
    path = Path(root) / OVERRIDE_FILE
    try:
        text = read_text(path, limit=MAX_BYTES, what="a price table")
    except FileNotFoundError:
        text = None
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    if text is not None:
        tables.append((OVERRIDE_FILE, parse_prices(text, OVERRIDE_FILE)))
    return merged(tables)


def merged(tables: Iterable[tuple[str, PriceFile]]) -> PriceTable:
    """The tables, later ones winning price by price."""
    hourly: dict[str, dict[str, float]] = {}
    sources = []
    for name, table in tables:
        for region, prices in table.hourly.items():
            hourly.setdefault(region, {}).update(prices)
        sources.append(PriceSource(file=name, date=table.date, source=table.source))
    return PriceTable(hourly=hourly, sources=tuple(reversed(sources)))


def parse_prices(text: str, path: str) -> PriceFile:
    """A price table from its JSON text; every problem is one ConfigError at its line and column."""
    try:
        document = jsontext.loads(text)
    except jsontext.JsonProblem as exc:
        raise ConfigError(f"{exc.at(path)}: {exc.message}; {exc.hint}") from None
    except ValueError as exc:  # JSONDecodeError
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        raise ConfigError(f"invalid JSON: {getattr(exc, 'msg', exc)}", path=path, line=line, column=column) from None
    if not isinstance(document, dict):
        raise ConfigError("the top level must be an object: {\"date\": ..., \"source\": ..., \"hourly\": {region: "
                          "{type: price}}}", path=path, line=1, column=1)
    try:
        return PriceFile.model_validate(document)
    except ValidationError as exc:
        raise _located(exc, text, path) from None


def _located(exc: ValidationError, text: str, path: str) -> ConfigError:
    error = exc.errors()[0]
    keys = [part for part in error["loc"] if part != "[key]"]
    detail = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        detail = f"unknown key; a price table has {', '.join(PriceFile.model_fields)}"
    elif error["type"] == "missing":
        detail = "missing; a price table says its date, source and hourly prices (docs/scaling.md)"
    elif error["msg"].startswith("Input should be "):
        detail = f"should be {error['msg'].removeprefix('Input should be ')}, got {_short(error.get('input'))}"
    where = ".".join(str(k) for k in keys)
    line, column = jsontext.key_position(text, keys)
    return ConfigError(f"{where}: {detail}" if where else detail, path=path, line=line, column=column)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
