"""The command reference in docs/ is the command line's own: regenerate it when a command changes."""

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
    for name in ("guide", "nodes-json", "commands", "images", "fleet", "registry", "state", "ci", "architecture",
                 "performance"):
        assert f"docs/{name}.md" in readme
        assert (ROOT / "docs" / f"{name}.md").exists(), f"docs/{name}.md is linked from README.md but missing"
