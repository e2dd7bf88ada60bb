"""The shipped templates (infra/templates/packer.json.j2, user-data.sh.j2), built without rendering.

A plan needs every group's Packer template as JSON values (its document, and the digest an AMI is
built from) and its launch template's user data. Rendering the shipped templates with jinja (and
reading the Packer template's JSON back) was about half of the desired graph's CPU at 10,000
groups. When the ops repository does not override a template (templates/<name>), it is built here
directly: the same keys in the same order, every text written as the template writes it
(`packer_literal`, what the `packer_json` filter writes; `tojson` for the user data's dna), so
documents, digests and plans are those of the render, which tests/unit/test_shipped_templates.py
compares on generated groups. A change to a shipped template must be made here too; that test
fails until it is.

The template writes a few names into JSON strings as they are (the owner, group, environment and
role in the AMI's and key pair's names): they are checked to be plain (letters, digits, `_`, `-`,
`/`, as nodes.json allows them); anything else is left to the render, which says what is wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any

from infra.config.models import Group
from infra.rendering import packer_literal

_TOJSON = json.JSONEncoder(sort_keys=True).encode  # jinja's `tojson`: json.dumps with sorted keys

SHIPPED = "packer.json.j2"
USER_DATA = "user-data.sh.j2"
_PLAIN = re.compile(r"[A-Za-z0-9_/-]*")
_HASH_TAG, _HASH_VARIABLE = "infra:source_hash", "{{user `source_hash`}}"


def shipped_packer_template(group: Group, *, role: str, source_ami: str, tags: dict[str, str], owner: str,
                            environment: str | None, roles_path: str) -> dict[str, Any] | None:
    """The values packer.json.j2 renders to for `group` (its context as graph.packer_template gives
    it), or None when a name written as it is is not plain: render the template then."""
    name = group.name
    if not all(_PLAIN.fullmatch(text) for text in (name, owner, role, environment or "")):
        return None
    literal = packer_literal
    builder: dict[str, Any] = {"type": literal(group.type), "region": "{{user `region`}}",
                               "source_ami": "{{user `source_ami`}}"}
    if group.source_group:
        builder["source_ami_filter"] = {
            "filters": {"tag:group": literal(group.source_group), "tag:infra:managed": "true",
                        "tag:infra:owner": literal(owner), "state": "available"},
            "owners": ["self"], "most_recent": True}
    described = f"infra: {name}: {group.description}" if group.description else f"infra: {name}"
    run_tags = {literal(key): literal(value) for key, value in group.tags.items()}
    run_tags.update({"Name": literal(f"packer build: {name}"), "infra:build": literal(name),
                     "infra:owner": literal(owner)})
    builder.update({
        "instance_type": literal(group.instance_type),
        "security_group_ids": "{{user `security_group_ids`}}",
        "ssh_username": literal(group.ssh_username),
        "temporary_key_pair_name": f"infra.{owner}.{name}.{{{{uuid}}}}",
        "ami_name": f"{name}{'-' + environment if environment else ''}-{{{{isotime \"20060102-150405.000\"}}}}-"
                    f"{_HASH_VARIABLE}",
        "ami_description": literal(described),
        "tags": _tagged(tags),
        "snapshot_tags": _tagged(tags),
        "run_tags": run_tags,
    })
    return {
        "variables": {"source_ami": literal(source_ami), "source_hash": "", "region": literal(group.region),
                      "security_group_ids": ""},
        "builders": [builder],
        "provisioners": [{"type": "chef-solo", "cookbook_paths": ["cookbooks"], "roles_path": literal(roles_path),
                          "run_list": [f"role[{role}]"]}],
    }


def _tagged(tags: dict[str, str]) -> dict[str, str]:
    """An AMI's (or its snapshots') tags as the template writes them: the group's, then the source hash."""
    written = {packer_literal(key): packer_literal(value) for key, value in tags.items()}
    written[_HASH_TAG] = _HASH_VARIABLE
    return written


def shipped_user_data(group: Group, dna: dict[str, Any]) -> str:
    """The text user-data.sh.j2 renders to for `group` and the node's `dna` (the template's context
    as graph.user_data gives it, but for the environment, which the shipped template does not use)."""
    written = (_TOJSON(dna).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
               .replace("'", "\\u0027"))  # what jinja's tojson escapes for HTML
    return (f"#!/bin/bash\n# infra: bootstrap chef-solo for {group.name} on first boot.\nset -euo pipefail\n"
            f"mkdir -p /etc/chef\ncat > /etc/chef/dna.json <<'DNA'\n{written}\nDNA\n"
            "if command -v chef-solo >/dev/null 2>&1; then\n"
            "  chef-solo -j /etc/chef/dna.json 2>&1 | tee -a /var/log/infra-chef-solo.log\n"
            "else\n"
            '  echo "infra: chef-solo is not installed on this image; the dna is in /etc/chef/dna.json" >&2\n'
            "fi\n")
