"""Several benchmarks write docs/performance.md: each owns one section, between markers, and keeps the others.

    <!-- section: registry-churn -->
    ## ...
    <!-- end: registry-churn -->

`replace_section` puts a benchmark's section in place (appended when new); `owned_sections`
gives every marked section of a page, so a benchmark that writes the whole page (plan_scale.py)
can append them again instead of dropping them.
"""

from __future__ import annotations

import re

MARKED = re.compile(r"<!-- section: (?P<name>[\w-]+) -->\n.*?<!-- end: (?P=name) -->\n", re.DOTALL)


def wrap(name: str, body: str) -> str:
    return f"<!-- section: {name} -->\n{body.rstrip()}\n<!-- end: {name} -->\n"


def replace_section(page: str, name: str, body: str) -> str:
    block = wrap(name, body)
    for match in MARKED.finditer(page):
        if match.group("name") == name:
            return page[:match.start()] + block + page[match.end():]
    return page.rstrip("\n") + "\n\n" + block


def owned_sections(page: str) -> list[str]:
    return [match.group(0) for match in MARKED.finditer(page)]
