"""The safe swap: checks on the candidate, an atomic replace, a reload, undone when the reload fails.
The checks and reloads here are plain programs (grep, true, false); haproxy runs in the integration tests."""

import sys

import pytest

from infra.errors import RegistryError
from infra.registry.reconfigure import Reconfigure, apply_text, dry_run

REJECT_BOGUS = "sh -c '! grep -q bogus {file}'"


def test_a_candidate_the_check_refuses_never_replaces_the_file(tmp_path):
    out = tmp_path / "haproxy.cfg"
    out.write_text("good\n")
    how = Reconfigure(check_cmds=(REJECT_BOGUS,), exec_cmd="false")  # a reload that would fail if it ran
    with pytest.raises(RegistryError, match=r"--check-cmd .* refused the new .*haproxy.cfg \(exit 1\); .* was left "
                                            r"as it was"):
        apply_text(out, "bogus\n", how)
    assert out.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["haproxy.cfg"]  # no candidate left behind


def test_a_candidate_that_passes_replaces_the_file_then_the_reload_runs(tmp_path):
    out, marker = tmp_path / "haproxy.cfg", tmp_path / "reloaded"
    reload = f"{sys.executable} -c \"import shutil; shutil.copy({str(out)!r}, {str(marker)!r})\""
    applied = apply_text(out, "new\n", Reconfigure(check_cmds=(REJECT_BOGUS,), exec_cmd=reload))
    assert applied.changed and applied.ran == [f"ran {reload}"]
    assert marker.read_text() == "new\n"  # the reload saw the new file in place
    assert not apply_text(out, "new\n", Reconfigure(exec_cmd="false")).changed  # unchanged: nothing runs


def test_the_check_sees_the_candidate_not_the_running_file(tmp_path):
    out = tmp_path / "app.conf"
    out.write_text("bogus\n")  # the running file would fail the check; the candidate does not
    assert apply_text(out, "fine\n", Reconfigure(check_cmds=(REJECT_BOGUS,))).changed


def test_a_failed_reload_puts_the_previous_file_back(tmp_path):
    out = tmp_path / "haproxy.cfg"
    out.write_text("old\n")
    with pytest.raises(RegistryError, match="exited 1; put the previous .* back"):
        apply_text(out, "new\n", Reconfigure(exec_cmd="false"))
    assert out.read_text() == "old\n"


def test_a_check_cmd_must_name_the_candidate_and_exist():
    with pytest.raises(RegistryError, match=r"must name the candidate file as \{file\}"):
        Reconfigure(check_cmds=("haproxy -c -f /etc/haproxy/haproxy.cfg",)).validate()
    with pytest.raises(RegistryError, match="--check-cmd: 'no-such-checker' not found on PATH"):
        Reconfigure(check_cmds=("no-such-checker {file}",)).validate()
    Reconfigure(check_cmds=("cat --file={file}",)).validate()


def test_a_dry_run_says_what_would_change_and_run_and_touches_nothing(tmp_path):
    out = tmp_path / "haproxy.cfg"
    how = Reconfigure(check_cmds=("cat {file}",), haproxy=tmp_path / "master.sock", exec_cmd="true")
    lines = dry_run(out, "a\nb\n", how)
    assert lines[0] == f"{out} would be created (2 lines)"
    assert lines[1].startswith("would check: cat ") and lines[1].endswith(".haproxy.cfg.CANDIDATE.tmp")
    assert [line.split(":")[0].split(" ")[1] for line in lines[1:]] == ["check", "check", "replace", "reload", "run"]
    assert not out.exists()
    out.write_text("a\nc\nd\n")
    assert dry_run(out, "a\nb\n", how)[0] == f"{out} would change (1 line(s) added, 2 removed)"
    assert dry_run(out, "a\nc\nd\n", how) == [f"{out} is unchanged; nothing would run"]


def test_the_new_file_keeps_the_mode_of_the_one_it_replaces_not_the_temp_file_s(tmp_path):
    out = tmp_path / "haproxy.cfg"
    apply_text(out, "first\n", Reconfigure())
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # readable by the program that loads it
    out.chmod(0o640)
    apply_text(out, "second\n", Reconfigure())
    assert out.stat().st_mode & 0o777 == 0o640
    with pytest.raises(RegistryError):
        apply_text(out, "third\n", Reconfigure(exec_cmd="false"))  # undone: the old text, the old mode
    assert out.read_text() == "second\n" and out.stat().st_mode & 0o777 == 0o640


def _umask() -> int:
    import os
    mask = os.umask(0)
    os.umask(mask)
    return mask
