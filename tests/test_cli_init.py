"""`infra init`: the schema file, nodes.json's "$schema", VS Code's settings; the schema checks what editors check."""

import json
from pathlib import Path

import jsonschema
import pytest

from infra.operations.editor_setup import with_schema_key
from tests.cli_helpers import run_infra

EXAMPLE = Path(__file__).resolve().parents[1] / "nodes.json"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "nodes.json").write_text(EXAMPLE.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_points_nodes_json_at_the_schema_and_keeps_the_rest_as_written(repo, capsys):
    before = (repo / "nodes.json").read_text()
    result = run_infra(capsys, "init")
    assert result.code == 0, result.err
    assert "wrote nodes.schema.json" in result.out and "wrote nodes.json" in result.out
    after = (repo / "nodes.json").read_text()
    lines = after.splitlines(keepends=True)
    assert lines[1] == '  "$schema": "./nodes.schema.json",\n'  # first key, indented like the next
    assert "".join(lines[:1] + lines[2:]) == before
    assert run_infra(capsys, "validate").code == 0  # infra ignores it


def test_the_schema_init_writes_accepts_the_seed_and_refuses_a_typo(repo, capsys):
    assert run_infra(capsys, "init").code == 0
    schema = json.loads((repo / "nodes.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = json.loads((repo / "nodes.json").read_text())
    assert list(validator.iter_errors(document)) == []
    document["12_04-bee"]["instance_typo"] = "m1.large"
    errors = list(validator.iter_errors(document))
    assert errors and "instance_typo" in str(errors[0].message) + str(list(errors[0].path))


def test_init_merges_vscode_settings_and_runs_twice_without_change(repo, capsys):
    (repo / ".vscode").mkdir()
    (repo / ".vscode/settings.json").write_text(json.dumps({"editor.tabSize": 2, "json.schemas": [
        {"fileMatch": ["/other.json"], "url": "./other.schema.json"}]}))
    assert run_infra(capsys, "init").code == 0
    settings = json.loads((repo / ".vscode/settings.json").read_text())
    assert settings["editor.tabSize"] == 2
    assert settings["json.schemas"] == [{"fileMatch": ["/other.json"], "url": "./other.schema.json"},
                                        {"fileMatch": ["/nodes.json"], "url": "./nodes.schema.json"}]
    written = {name: (repo / name).read_text() for name in ("nodes.json", "nodes.schema.json", ".vscode/settings.json")}
    again = run_infra(capsys, "init")
    assert "wrote" not in again.out and "already set up" in again.out
    assert written == {name: (repo / name).read_text() for name in written}


def test_settings_with_comments_are_left_alone_and_the_lines_to_add_said(repo, capsys):
    (repo / ".vscode").mkdir()
    commented = '{\n  // mine\n  "editor.tabSize": 2,\n}\n'
    (repo / ".vscode/settings.json").write_text(commented)
    result = run_infra(capsys, "init")
    assert result.code == 0
    assert (repo / ".vscode/settings.json").read_text() == commented
    assert ".vscode/settings.json: not plain JSON" in result.err and '"json.schemas"' in result.err


def test_a_schema_key_that_is_not_a_string_is_one_line(repo, capsys):
    document = json.loads(EXAMPLE.read_text())
    (repo / "nodes.json").write_text(json.dumps({"$schema": 3, **document}, indent=2))
    result = run_infra(capsys, "validate")
    assert result.code == 1 and "$schema must be the path or URL" in result.err and result.err.count("\n") == 1


def test_init_without_nodes_json_writes_a_valid_starter(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_infra(capsys, "init").code == 0
    assert json.loads((tmp_path / "nodes.json").read_text())["$schema"] == "./nodes.schema.json"
    assert run_infra(capsys, "validate").code == 0


@pytest.mark.parametrize("text, expected", [
    ('{"web": {}}', '{"$schema": "./s.json", "web": {}}'),
    ("{}", '{"$schema": "./s.json"}'),
    ('{\r\n\t"web": {}\r\n}', '{\r\n\t"$schema": "./s.json",\r\n\t"web": {}\r\n}'),
    ('{\n}\n', '{\n  "$schema": "./s.json"\n}\n'),
])
def test_the_schema_key_is_inserted_in_the_files_own_style(text, expected):
    assert with_schema_key(text, "./s.json") == expected
    json.loads(with_schema_key(text, "./s.json"))
