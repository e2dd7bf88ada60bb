"""The docs keep up with the code: the command reference is the command line's own, the nodes.json
reference names every key."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_reference_matches_the_command_line():
    generated = subprocess.run([sys.executable, str(ROOT / "scripts" / "command_reference.py")], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert (ROOT / "docs" / "commands.md").read_text() == generated, \
        "docs/commands.md is out of date: run make docs"


def test_every_doc_the_readme_links_exists():
    readme = (ROOT / "README.md").read_text()
    for name in ("guide", "nodes-json", "commands", "images", "fleet", "registry", "state", "ci", "plan-json",
                 "architecture", "performance"):
        assert f"docs/{name}.md" in readme
        assert (ROOT / "docs" / f"{name}.md").exists(), f"docs/{name}.md is linked from README.md but missing"


def _keys(model, prefix=""):
    """Every key of a settings model, nested ones as `parent.child`."""
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        yield key
        for inner in (*getattr(field.annotation, "__args__", ()), field.annotation):
            if hasattr(inner, "model_fields"):
                yield from _keys(inner, key + ".")


def test_the_nodes_json_reference_names_every_key():
    from infra.config.schema import GroupSettings, Settings

    reference = (ROOT / "docs" / "nodes-json.md").read_text()
    undocumented = [key for key in [*_keys(GroupSettings), *_keys(Settings)]
                    if f"`{key.rsplit('.', 1)[-1]}`" not in reference and f"`{key}`" not in reference
                    and f"{key}`" not in reference and f"`{key}." not in reference]
    assert not undocumented, f"docs/nodes-json.md does not name {', '.join(undocumented)}"
