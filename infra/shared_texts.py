"""Short texts that repeat, held once.

AWS's answers repeat their tags' keys, resource types and names (an ASG's name in each of its tags),
and the Packer templates infra renders, one per group, repeat every key and most short values: each
text read anew is a new string. At 10,000 groups, the ASGs, launch templates and AMIs read as they
come were 165 MB (112 MB so), and the groups' Packer templates 59 MB (28 MB so). Long texts (ARNs,
user data, scripts) are seldom repeated: hashing them cost more than it saved. Not sys.intern: on
some Pythons what it holds is never freed, and a watch loop reads new ids for ever.
"""

from __future__ import annotations

from typing import Any

SHARED_LENGTH = 32
SHARED_AT_MOST = 100_000  # texts remembered; then forgotten all at once, as few are seen again by then
_TEXTS: dict[str, str] = {}


def shared_text(text: str) -> str:
    """`text`, or the equal text seen before."""
    if len(text) > SHARED_LENGTH:
        return text
    found = _TEXTS.get(text)
    if found is None:
        if len(_TEXTS) >= SHARED_AT_MOST:
            _TEXTS.clear()
        _TEXTS[text] = found = text
    return found


def shared_object(pairs: dict[str, Any]) -> dict[str, Any]:
    """A JSON object as read (json's `object_hook`), its keys and short texts held once: `shared_text`
    inlined (10,000 Packer templates are 760,000 keys and values: a call each took 0.1 s)."""
    if len(_TEXTS) >= SHARED_AT_MOST:
        _TEXTS.clear()
    held = _TEXTS.setdefault
    return {held(key, key): held(value, value) if type(value) is str and len(value) <= SHARED_LENGTH else value
            for key, value in pairs.items()}
