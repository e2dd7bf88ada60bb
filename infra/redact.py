"""Secrets infra never shows: values under keys that look secret, and the user info of URLs.

A key looks secret by its words, whatever its case style: `db_password`, `privateKey`,
`ssl-key`, `SSL.Key`, `root_pw` and `{"ssl": {"key": ...}}` all do, while `key` alone does not
(the seed's attributes use it for plain values). A URL shown in an error or a report keeps its
host but never its password: `http://admin:SECRET@host` reads `http://admin:(sensitive)@host`
in values, and infra's own messages name the endpoint without user info at all (`shown_url`).
Inside a value, `password=...` (any secret-looking NAME=VALUE) is masked too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]  # C; in json.encoder's API
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "(sensitive)"

# Words that are secret on their own, anywhere in a word (`dbpassword`, `authToken`).
SECRET_PARTS = ("password", "passwd", "passphrase", "secret", "token", "credential", "bearer")
# Words that are secret only when they are the whole word (`pw`, not `pwm`; `pass`, not `bypass`).
SECRET_WORDS = frozenset({"pw", "pwd", "pass"})
# `<word> key` (or `<word>key`) is secret for these words: `private_key`, `sslKey`, `apikey`.
KEY_KINDS = frozenset({"private", "ssl", "tls", "api", "access", "secret", "signing", "encryption", "client",
                       "ssh", "session", "auth", "master", "license"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")  # camelCase, SNAKE, kebab, dotted: all split
_INDEX = re.compile(r"\[\d+\]$")
# scheme://user:password@ -- the password ends at the last '@' before the host
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^/\s]*@")
# NAME=VALUE inside a value (a connection string, a command line, a query): VALUE ends at a space,
# '&', ';', ',' or a quote
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_.-]*)=(?P<value>[^\s&;,\"']+)")


def words(key: str) -> list[str]:
    """The words of a key, lower case: `privateKey` -> private, key; `SSL_KEY` -> ssl, key."""
    return [word.lower() for word in _WORDS.findall(key)]


@lru_cache(maxsize=4096)
def is_secret_key(key: str, parent: str = "") -> bool:
    """Whether a value under `key` (inside `parent`, for `{"ssl": {"key": ...}}`) is a secret."""
    own = words(key)
    if any(part in word for word in own for part in SECRET_PARTS) or SECRET_WORDS.intersection(own):
        return True
    if any(word.endswith("key") and word[:-3] in KEY_KINDS for word in own):
        return True
    sequence = (words(parent)[-1:] if parent else []) + own
    return any(first in KEY_KINDS and second in ("key", "keys") for first, second in pairwise(sequence))


def mask_url_passwords(text: str) -> str:
    """`text` with the password of every URL in it replaced by the mark (the user name stays)."""
    if "://" not in text or "@" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)


def mask_assignments(text: str) -> str:
    """`text` with the value of every `NAME=VALUE` whose NAME looks secret masked:
    `host=db password=hunter2` -> `host=db password=(sensitive)`."""
    if "=" not in text:
        return text
    return _ASSIGNMENT.sub(lambda m: f"{m['name']}={MASK}" if is_secret_key(m["name"]) else m[0], text)


def shown_url(url: str) -> str:
    """`url` as infra shows it: without user info (`http://admin:pw@host:80/` -> `http://host:80/`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_url_passwords(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def shown_webhook(url: str) -> str:
    """A webhook URL as infra shows it: scheme and host only, since the path or query of one (Slack's
    `/services/T0/B0/XXXX`, a `?token=`) is its credential: `https://hooks.slack.com/(sensitive)`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    host = parts.netloc.rpartition("@")[2]
    secret = parts.path.strip("/") or parts.query
    return f"{parts.scheme}://{host}/{MASK}" if secret else f"{parts.scheme}://{host}/"


def path_keys(path: str) -> tuple[str, str]:
    """The key a value at `path` sits under and that key's parent, for is_secret_key:
    `document.ssl.key` -> (key, ssl); `users[0].password` -> (password, users); "" -> ("", "")."""
    if "." not in path and "[" not in path:  # a top-level key, as most are: no parts to clean
        return path, ""
    parts = [_INDEX.sub("", part) for part in path.split(".")]
    return parts[-1], (parts[-2] if len(parts) > 1 else "")


def masked(value: Any, path: str = "") -> Any:
    """`value` with every value under a secret-looking key, and every URL password, masked.
    `path` is where the value sits (`document.default_attributes.ssl.key`, `users[0].password`)."""
    key, parent = path_keys(path)
    if key and is_secret_key(key, parent):
        return MASK
    return _masked(value, key)


# Keys as JSON writes them before their values, `"key": `, by masking and parent key: a plan writes
# a few hundred keys a million times. A key whose value is masked ends in MASKED_KEY (taken off).
MASKED_KEY = "\t"  # never the last character of a written key: json escapes a tab in a key
_WRITTEN_KEYS: dict[tuple[bool, str], dict[str, str]] = {}
_WRITTEN_AT_MOST = 1_000  # parent keys; then forgotten all at once


def written_keys(parent: str, masking: bool = True) -> dict[str, str]:
    """The keys written so far under `parent` (by `written_key`), to look each up before writing it."""
    keys = _WRITTEN_KEYS.get((masking, parent))
    if keys is None:
        if len(_WRITTEN_KEYS) >= _WRITTEN_AT_MOST:
            _WRITTEN_KEYS.clear()
        keys = _WRITTEN_KEYS[masking, parent] = {}
    return keys


def written_key(keys: dict[str, str], key: str, parent: str, masking: bool = True) -> str:
    """`"key": ` as JSON writes it, ending in MASKED_KEY when the value under it is masked; kept in `keys`."""
    written = encode_basestring_ascii(key) + ": "
    keys[key] = written = written + MASKED_KEY if masking and is_secret_key(key, parent) else written
    return written


def untouched(text: str) -> bool:
    """Whether `masked_text` shows `text` as it is: it holds no `@` (a URL password) and no `=` (an
    assignment). The walks over every value of a plan test this first, before anything else; the
    JSON plan's (action_json.ActionText._value) has it inline: a new trigger goes there too."""
    return "@" not in text and "=" not in text


def masked_text(text: str) -> str:
    """A string value as shown: its URL passwords and secret-looking assignments masked."""
    return text if untouched(text) else mask_assignments(mask_url_passwords(text))


def _masked(value: Any, parent: str) -> Any:
    kind = type(value)  # exact types first: this walks every value of a plan
    if kind is str:
        return masked_text(value)
    if kind is dict:  # the same dict when nothing in it is masked, as most are not: no copy of every value
        copied = None
        keys = written_keys(parent)
        for key, item in value.items():
            if type(key) is str:
                name, written = key, keys.get(key) or written_key(keys, key, parent)
                secret = written[-1] == MASKED_KEY
            else:
                name = str(key)
                secret = is_secret_key(name, parent)
            if secret:
                shown: Any = MASK
            elif type(item) is str and untouched(item):
                continue  # a plain string, as most are: as it is, not walked
            else:
                shown = _masked(item, name)
            if shown is not item:
                if copied is None:
                    copied = dict(value)
                copied[key] = shown
        return value if copied is None else copied
    if kind is list:
        items = None
        for index, item in enumerate(value):
            if type(item) is str and untouched(item):
                continue
            shown = _masked(item, parent)
            if shown is not item:
                if items is None:
                    items = list(value)
                items[index] = shown
        return value if items is None else items
    if isinstance(value, dict):
        return {key: MASK if is_secret_key(str(key), parent) else _masked(item, str(key))
                for key, item in value.items()}
    if kind is list or isinstance(value, list):
        return [_masked(item, parent) for item in value]
    if isinstance(value, str):
        return masked_text(value)
    return value
