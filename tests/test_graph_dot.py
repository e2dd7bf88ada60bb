"""`infra graph` as DOT, read back by graphviz's real `dot` (`dot -Tjson`): nodes, labels, colours, edges."""

from __future__ import annotations

import json
import shutil
import subprocess

from infra.reconciler.graph_render import dot, of_plan
from tests.cli_helpers import run_infra
from tests.unit.test_graph_render import a_roll


def read_dot(text: str) -> tuple[dict[str, dict], set[tuple[str, str]]]:
    """(attributes by node name, edges by names) as graphviz lays the graph out."""
    binary = shutil.which("dot")
    assert binary, "graphviz's dot is missing: scripts/system-deps.sh installs it"
    laid = subprocess.run([binary, "-Tjson"], input=text, capture_output=True, text=True, timeout=60)
    assert laid.returncode == 0, laid.stderr
    document = json.loads(laid.stdout)
    objects = document.get("objects", [])
    nodes = {o["name"]: o for o in objects}
    edges = {(objects[e["tail"]]["name"], objects[e["head"]]["name"]) for e in document.get("edges", [])}
    return nodes, edges


def test_dot_of_a_plan_has_every_action_marked_and_its_edges():
    nodes, edges = read_dot(dot(of_plan(a_roll())))
    assert {name: node["label"] for name, node in nodes.items()} == {
        "role.web": "role.web", "packer_template.web": "~ packer_template.web", "ami.web": "* ami.web",
        "dna.web": "dna.web", "launch_template.web": "~ launch_template.web", "asg.web": "+/- asg.web",
        "asg.old": "- asg.old"}
    assert edges == {("packer_template.web", "ami.web"), ("role.web", "ami.web"), ("ami.web", "launch_template.web"),
                     ("dna.web", "launch_template.web"), ("launch_template.web", "asg.web"), ("asg.web", "asg.old")}
    assert nodes["asg.old"]["color"] == "#cf222e" and "dashed" in nodes["dna.web"]["style"]


def test_infra_graph_draws_the_plan_then_a_saved_plan(local, capsys):
    nodes, edges = read_dot(run_infra(capsys, "graph").out)
    assert {n["label"] for n in nodes.values()} == {"+ role.api", "+ role.web"}
    assert run_infra(capsys, "plan", "--out", "first.plan").code == 0
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    nodes, _ = read_dot(run_infra(capsys, "graph").out)
    assert {n["label"] for n in nodes.values()} == {"role.api", "role.web"}  # nothing to do now
    saved, _ = read_dot(run_infra(capsys, "graph", "--plan", "first.plan").out)
    assert {n["label"] for n in saved.values()} == {"+ role.api", "+ role.web"}
    assert run_infra(capsys, "graph", "--plan", "first.plan", "web").code == 1


def test_infra_graph_desired_draws_what_nodes_json_wants_without_any_cloud(example, capsys):
    nodes, edges = read_dot(run_infra(capsys, "graph", "--desired", "12_04-bee").out)
    assert set(nodes) == {f"{kind}.12_04-bee" for kind in ("role", "packer_template", "ami", "dna",
                                                            "launch_template", "asg")}
    assert ("ami.12_04-bee", "launch_template.12_04-bee") in edges and len(edges) == 5
    unknown = run_infra(capsys, "graph", "--desired", "12_04-be")
    assert unknown.code == 1 and "did you mean '12_04-bee'" in unknown.err
