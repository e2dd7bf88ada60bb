"""Range checks for the services:* options whose types alone let bad values through.

click turns `--grace inf`, `--grace nan` and `--ttl 99999999999999999999` into valid floats and
ints, and they only fail deep inside: time.sleep overflows after a decommission has already
marked entries leaving, and etcd refuses a TTL that does not fit its int64 with a raw JSON
error. So the commands check these values first, before they read or write etcd. One year
bounds them all: a longer wait is a typo, and a registration meant to outlive a year should
be permanent (no --ttl).
"""

from __future__ import annotations

import math

from infra.errors import RegistryError

MAX_SECONDS = 365 * 24 * 3600  # one year; far below what time.sleep, lock timeouts and etcd accept


def check_seconds(option: str, value: float) -> float:
    """A wait (--grace, --debounce, --retry): finite, not negative, at most a year."""
    if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise RegistryError(f"{option} {value:g} is out of range: give a number of seconds from 0 to "
                            f"{MAX_SECONDS} (one year)")
    return value


def check_ttl(ttl: int | None) -> int | None:
    """A lease TTL (--ttl): a whole number of seconds from 1 to a year; None means no lease."""
    if ttl is not None and not 1 <= ttl <= MAX_SECONDS:
        raise RegistryError(f"--ttl {ttl} is out of range: give 1 to {MAX_SECONDS} seconds (one year), "
                            f"or leave --ttl out for entries that never expire")
    return ttl


def parse_wait(text: str) -> tuple[float, float]:
    """--wait MIN[:MAX]: act once the registry has been quiet MIN seconds, at most MAX after the first
    change (default 10 x MIN), as consul-template's -wait."""
    low, sep, high = text.partition(":")
    try:
        quiet = float(low.strip().removesuffix("s"))
        most = float(high.strip().removesuffix("s")) if sep else 10 * quiet
    except ValueError:
        raise RegistryError(f"--wait {text!r} is not MIN[:MAX] in seconds, e.g. --wait 0.5:5") from None
    check_seconds("--wait", quiet)
    check_seconds("--wait", most)
    if most < quiet:
        raise RegistryError(f"--wait {text!r}: MAX ({most:g}) is shorter than MIN ({quiet:g})")
    return quiet, most
