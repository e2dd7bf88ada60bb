import sys

import pytest

from infra.errors import RegistryError
from infra.registry.command import check_command, run_command, split_command
from infra.registry.fingerprint import WatchRecord
from infra.registry.on_change import RunOnChange


def test_cmd_is_split_like_a_shell_but_never_run_by_one():
    assert split_command("chef-solo -j '/etc/chef/dna file.json'") == ["chef-solo", "-j", "/etc/chef/dna file.json"]
    assert split_command("echo a; rm -rf /") == ["echo", "a;", "rm", "-rf", "/"]


@pytest.mark.parametrize("cmd, message", [("", "needs a command"), ("echo 'open", "No closing quotation")])
def test_bad_cmds_are_refused_up_front(cmd, message):
    with pytest.raises(RegistryError, match=message):
        split_command(cmd)


def test_run_reports_the_exit_code_and_passes_the_environment(tmp_path):
    out = tmp_path / "env"
    code = f"import os,sys; open({str(out)!r}, 'w').write(os.environ['X']); sys.exit(3)"
    result = run_command(f"{sys.executable} -c \"{code}\"", env={"X": "api,web"})
    assert result.returncode == 3 and not result.ok
    assert out.read_text() == "api,web"


def test_a_missing_program_is_a_one_line_error():
    with pytest.raises(RegistryError, match="'no-such-program-xyz' not found"):
        run_command("no-such-program-xyz --flag")


def test_check_command_finds_the_program_before_anything_runs(tmp_path):
    assert check_command(f"{sys.executable} -V") == [sys.executable, "-V"]
    assert check_command("true --flag") == ["true", "--flag"]
    with pytest.raises(RegistryError, match="^--exec: '/no/such' not found on PATH$"):
        check_command("/no/such --reload")
    script = tmp_path / "reload.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(RegistryError, match="is not executable"):
        check_command(str(script))


def test_the_watch_agent_refuses_a_missing_cmd_at_start_not_at_the_first_change(tmp_path):
    with pytest.raises(RegistryError, match="'no-such-program-xyz' not found on PATH"):
        RunOnChange(["api"], "no-such-program-xyz", WatchRecord(tmp_path / "record.json"))
