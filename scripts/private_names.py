"""`make lint`: no module of infra/ reads another module's private name (`module._name`).

ruff's PLC2701 catches `from module import _name`; this catches the other spelling, an attribute
of an imported module, which no linter checks. One line per use, exit 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def imported_modules(tree: ast.Module) -> set[str]:
    """Local names bound to infra's own modules: `import infra.x as y`, `from infra.x import y`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0]
                      for alias in node.names if alias.name.startswith("infra")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("infra"):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    modules = imported_modules(tree)
    return [f"{path}:{node.lineno}: {node.value.id}.{node.attr}: a private name of another module; make it public "
            f"or keep the code that needs it in that module"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
            and node.attr.startswith("_") and not node.attr.startswith("__")]


def main(roots: list[str]) -> int:
    found = [line for root in roots for path in sorted(Path(root).rglob("*.py")) for line in private_uses(path)]
    print("\n".join(found) if found else "no private names read across modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["infra"]))
