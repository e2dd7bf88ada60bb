"""The command line on local files only (no cloud): plan, apply and drift of files, saved plans, state and locks."""

import json
import os

import pytest

from infra.reconciler.plan_json import FORMAT_VERSION
from tests.cli_helpers import run_infra


def infra(capsys, *args):
    return run_infra(capsys, *args)


def test_apply_then_plan_is_empty_then_a_hand_edit_is_drift(local, capsys):
    first = infra(capsys, "apply", "--auto-approve")
    assert first.code == 0, first.err
    assert "Plan: 2 to add" in first.out and "Apply complete" in first.out
    assert infra(capsys, "plan", "--detailed-exitcode").code == 0
    assert infra(capsys, "drift").code == 0

    role = local / "roles" / "role-web.json"
    document = json.loads(role.read_text())
    document["run_list"][0] = "recipe[hacked::default]"
    role.write_text(json.dumps(document))
    drift = infra(capsys, "drift", "--output", "markdown")
    assert drift.code == 2
    assert ("`role.web` | `document.run_list[0]` | `\"recipe[base::default]\"` | `\"recipe[hacked::default]\"`"
            in drift.out)
    planned = infra(capsys, "plan", "--detailed-exitcode")
    assert planned.code == 2 and "~ role.web" in planned.out and "1 to change" in planned.out
    assert infra(capsys, "apply", "--auto-approve").code == 0
    assert json.loads(role.read_text())["run_list"][0] == "recipe[base::default]"


def test_a_recipe_put_into_a_run_list_is_planned_as_an_insertion(local, capsys):
    assert infra(capsys, "apply", "--auto-approve").code == 0
    nodes = json.loads((local / "nodes.json").read_text())
    nodes["web"]["run_list"] = ["recipe[acme::ntp]", "recipe[acme::web]"]  # after base's recipe, before web's
    (local / "nodes.json").write_text(json.dumps(nodes))
    text = infra(capsys, "plan").out
    assert '+ document.run_list: "recipe[acme::ntp]" (inserted at 1)' in text, text
    assert "(absent)" not in text
    [change] = [c for a in json.loads(infra(capsys, "plan", "--output", "json").out)["actions"]
                for c in a["changes"] if a["address"] == "role.web"]
    assert (change["op"], change["index"], change["path"]) == ("insert", 1, "document.run_list[1]")


def test_drift_where_nothing_was_ever_applied_fails_unless_allowed(local, capsys):
    refused = infra(capsys, "drift")
    assert refused.code == 1 and refused.out == ""
    assert refused.err.startswith(f"error: no state at {local / '.infra' / 'state.json'}: nothing was ever applied "
                                  f"there, so there is nothing to compare; check __settings__.state in nodes.json, "
                                  f"or pass --allow-empty")
    for output, said in (("text", "No drift: nothing was applied yet (no state at"),
                         ("markdown", "### infra drift: none\n\nNothing was applied yet (no state at"),
                         ("json", '"never_applied": "')):
        allowed = infra(capsys, "drift", "--allow-empty", "--output", output)
        assert allowed.code == 0 and said in allowed.out, allowed.out
    assert infra(capsys, "apply", "--auto-approve").code == 0
    assert infra(capsys, "drift").code == 0  # a state now: there is something to compare
    for address in ("role.web", "role.api"):
        assert infra(capsys, "state", "rm", address).code == 0
    emptied = infra(capsys, "drift")  # everything forgotten is a state all the same: no error
    assert emptied.code == 0 and "No drift: 0 resource(s)" in emptied.out


def test_exclude_leaves_a_group_out_and_says_so(local, capsys):
    planned = infra(capsys, "plan", "--exclude", "api")
    assert planned.code == 0 and "+ role.web" in planned.out and "role.api" not in planned.out.split("  ! ")[0]
    assert "  ! left out by --exclude, with what depends on it (1): role.api" in planned.out
    assert '"excluded": [\n    "role.api"\n  ]' in infra(capsys, "plan", "--exclude", "api", "-o", "json").out
    assert "> **Left out by --exclude**, with what depends on it: `role.api`" in infra(
        capsys, "plan", "--exclude", "role.api", "-o", "markdown").out
    applied = infra(capsys, "apply", "--auto-approve", "--exclude", "api")
    assert applied.code == 0 and (local / "roles" / "role-web.json").exists()
    assert not (local / "roles" / "role-api.json").exists()
    typo = infra(capsys, "plan", "--exclude", "apj")
    assert typo.code == 1 and typo.err.strip() == ("error: --exclude apj: no group or address of that name in this "
                                                   "plan (nodes.json, the state, what exists); did you mean 'api'?")
    infra(capsys, "plan", "--out", "saved.plan")
    refused = infra(capsys, "apply", "saved.plan", "--exclude", "api")
    assert refused.code == 1 and "--exclude is for planning" in refused.err


def test_refresh_only_accepts_a_hand_edit_into_the_state_and_changes_nothing(local, capsys):
    assert infra(capsys, "apply", "--auto-approve").code == 0
    role = local / "roles" / "role-web.json"
    document = json.loads(role.read_text())
    document["run_list"].append("recipe[hotfix::default]")
    role.write_text(json.dumps(document))
    (local / "roles" / "role-api.json").unlink()
    assert infra(capsys, "drift").code == 2

    planned = infra(capsys, "plan", "--refresh-only", "--detailed-exitcode")
    assert planned.code == 2 and "<= role.web" in planned.out and "<= role.api" in planned.out
    narrowed = infra(capsys, "plan", "--refresh-only", "--exclude", "api")
    assert "<= role.web" in narrowed.out and "<= role.api" not in narrowed.out
    assert "  ! left out by --exclude, with what depends on it (1): role.api" in narrowed.out
    assert "Refresh-only plan: 2 to record in state (1 gone, to forget); nothing else changes." in planned.out
    refused = infra(capsys, "apply", "--refresh-only", "--adopt", "--auto-approve")
    assert refused.code == 1 and "--adopt and --refresh-only do not go together" in refused.err
    applied = infra(capsys, "apply", "--refresh-only", "--auto-approve")
    assert applied.code == 0 and "Refresh complete" in applied.out and "nothing else was changed" in applied.out
    assert json.loads(role.read_text()) == document and not (local / "roles" / "role-api.json").exists()
    assert infra(capsys, "drift").code == 0  # the state records what is there
    assert sorted(json.loads(infra(capsys, "state", "list", "-o", "json").out)) == ["role.web"]
    again = infra(capsys, "plan", "--refresh-only", "--detailed-exitcode")
    assert again.code == 0 and "nothing to refresh" in again.out
    # nodes.json still says what it says: the next plan puts the role back, and makes the api role again
    assert infra(capsys, "plan", "--detailed-exitcode").code == 2


def test_secrets_are_masked_in_plan_and_show_outputs(local, capsys):
    planned = infra(capsys, "plan", "--output", "json")
    assert "hunter2" not in planned.out and "(sensitive)" in planned.out
    assert "hunter2" not in infra(capsys, "plan").out
    infra(capsys, "apply", "--auto-approve")
    assert "hunter2" not in infra(capsys, "state", "show", "role.web").out


def test_secrets_in_any_case_style_and_url_passwords_never_show(local, capsys):
    secrets = {"privateKey": "S1", "ssl_key": "S2", "root_pw": "S3", "ssl": {"key": "S4"},
               "db_url": "postgres://app:S5@db/app", "bearer": "S6", "dsn": "host=db password=S7 port=5432"}
    config = json.loads((local / "nodes.json").read_text())
    config["web"]["default_attributes"] = secrets
    (local / "nodes.json").write_text(json.dumps(config))
    shown = [infra(capsys, "plan", "--output", output).out for output in ("text", "json", "markdown")]
    shown.append(infra(capsys, "show", "web").out)
    infra(capsys, "apply", "--auto-approve")
    shown.append(infra(capsys, "state", "show", "role.web").out)
    for out in shown:
        assert not any(f"S{i}" in out for i in range(1, 8)), out
    assert "postgres://app:(sensitive)@db/app" in shown[-1] and "host=db password=(sensitive) port=5432" in shown[-1]


def test_a_saved_plan_applies_once_and_is_refused_when_stale(local, capsys):
    assert infra(capsys, "plan", "--out", "tf.plan").code == 0
    assert infra(capsys, "apply", "tf.plan").code == 0
    assert (local / "roles" / "role-api.json").exists()
    again = infra(capsys, "apply", "tf.plan")
    assert again.code == 1 and "stale" in again.err and "state changed" in again.err

    (local / "roles" / "role-api.json").unlink()
    infra(capsys, "plan", "--out", "tf.plan")
    config = json.loads((local / "nodes.json").read_text())
    config["api"]["description"] = "changed"
    (local / "nodes.json").write_text(json.dumps(config))
    stale = infra(capsys, "apply", "tf.plan")
    assert stale.code == 1 and "nodes.json changed since it was made" in stale.err
    assert not (local / "roles" / "role-api.json").exists()


def test_apply_without_a_terminal_needs_auto_approve(local, capsys):
    result = infra(capsys, "apply")
    assert result.code == 1 and "--auto-approve" in result.err
    assert not (local / "roles").exists()


def test_removing_a_group_plans_its_deletion_loudly(local, capsys):
    infra(capsys, "apply", "--auto-approve")
    config = json.loads((local / "nodes.json").read_text())
    del config["web"]
    (local / "nodes.json").write_text(json.dumps(config))
    planned = infra(capsys, "plan")
    assert "- role.web" in planned.out and "1 to destroy" in planned.out and "will be destroyed" in planned.out
    assert infra(capsys, "apply", "--auto-approve").code == 0
    assert not (local / "roles" / "role-web.json").exists()
    assert "role.web" not in infra(capsys, "state", "list").out


def test_state_commands(local, capsys):
    infra(capsys, "apply", "--auto-approve")
    assert infra(capsys, "state", "list").out.splitlines() == ["role.api  roles/role-api.json",
                                                               "role.web  roles/role-web.json"]
    assert json.loads(infra(capsys, "state", "show", "role.api", "-o", "json").out)["kind"] == "role"
    missing = infra(capsys, "state", "show", "role.nope")
    assert missing.code == 1 and "not in state" in missing.err
    assert infra(capsys, "state", "rm", "role.api").code == 0
    assert infra(capsys, "state", "list", "-o", "json").out.split() == ['["role.web"]']
    assert (local / "roles" / "role-api.json").exists()  # forgotten, not destroyed
    infra(capsys, "apply", "--auto-approve")  # the file still matches: adopted again, nothing written
    assert json.loads(infra(capsys, "state", "list", "-o", "json").out) == ["role.api", "role.web"]


def test_a_held_lock_refuses_apply_and_unlock_clears_it_once_confirmed(local, capsys):
    from infra.state.local import LocalBackend
    from infra.state.lock import LockInfo

    backend = LocalBackend(local / ".infra" / "state.json")
    holder = LockInfo(operation="apply", who="ops@ci-7", pid=4242, created="2026-11-25T10:02:11+00:00")
    backend.acquire(holder)
    refused = infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "is locked by" in refused.err and holder.id in refused.err
    unasked = infra(capsys, "state", "unlock", holder.id)  # no terminal to ask on
    assert unasked.code == 1 and unasked.err.count("\n") == 1
    assert (f"the lock is held by ops@ci-7 (pid 4242) since 2026-11-25T10:02:11+00:00 for apply, lock id {holder.id}, "
            f"which may still be running on ci-7: run infra state unlock on a terminal to confirm, or pass --force"
            ) in unasked.err
    assert backend.holds(holder)
    assert infra(capsys, "state", "unlock", holder.id, "-f").code == 0
    assert infra(capsys, "apply", "--auto-approve").code == 0


def test_unlock_refuses_a_holder_still_running_on_this_host_even_forced(local, capsys):
    from infra.state.local import LocalBackend
    from infra.state.lock import LockInfo

    backend = LocalBackend(local / ".infra" / "state.json")
    holder = LockInfo(operation="apply", pid=os.getpid())  # this test's own process: alive, here
    backend.acquire(holder)
    refused = infra(capsys, "state", "unlock", holder.id, "--force")
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert (f"(pid {os.getpid()}) since {holder.created} for apply, lock id {holder.id}, and that process is still "
            f"running on this host: the lock is not removed") in refused.err
    assert backend.holds(holder)


def test_graph_prints_dot_and_mermaid(example, capsys):
    dot = infra(capsys, "graph", "--desired").out
    assert '"ami.12_04-bee" -> "launch_template.12_04-bee";' in dot
    assert infra(capsys, "graph", "--desired", "--format", "mermaid").out.startswith("flowchart LR")
    assert infra(capsys, "graph", "--format", "png").code == 1


@pytest.mark.parametrize("args, expected", [
    (["packer:delete"], "Missing argument 'GROUP'. (see: infra packer:delete --help)"),
    (["plan", "--output", "yaml"], "'yaml' is not one of 'text', 'json', 'markdown'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["apply", "--parallelism", "0"], "Invalid value for '--parallelism'"),
    (["completion"], "Missing argument 'SHELL'. Choose from: bash, zsh, fish (see: infra completion --help)"),
])
def test_usage_errors_are_one_line_and_exit_1_never_2(example, capsys, args, expected):
    result = infra(capsys, *args)
    assert result.code == 1  # 2 means "changes" for plan and drift
    assert result.err.count("\n") == 1 and expected in result.err


def test_a_stopped_sandbox_is_one_line_at_once_not_a_minute_of_retries(example, capsys, monkeypatch):
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    result = infra(capsys, "plan")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert f"cannot reach AWS at http://127.0.0.1:{port}: nothing listens there" in result.err
    assert "infra sandbox status" in result.err


def test_infra_alone_and_state_alone_print_their_help(local, capsys):
    for args in ((), ("state",)):
        result = infra(capsys, *args)
        assert result.code == 0 and result.out.startswith("Usage: infra") and result.err == ""
    assert "unlock" in infra(capsys, "state").out


def test_plan_out_to_a_directory_is_refused_before_planning(local, capsys):
    result = infra(capsys, "plan", "--out", str(local))
    assert result.code == 1 and "is a directory; give the file to save the plan in" in result.err
    assert result.out == ""  # no plan printed first


def test_apply_refuses_what_is_not_a_plan_or_is_from_a_newer_infra(local, capsys):
    result = infra(capsys, "apply", "nodes.json", "--auto-approve")
    assert result.code == 1 and "nodes.json: not a plan file made by infra plan --out" in result.err
    assert infra(capsys, "plan", "--out", "saved.plan").code == 0
    saved = json.loads((local / "saved.plan").read_text())
    (local / "saved.plan").write_text(json.dumps({**saved, "format_version": "99.0"}))
    result = infra(capsys, "apply", "saved.plan", "--auto-approve")
    assert result.code == 1
    assert f"plan format 99.0 is newer than this infra understands ({FORMAT_VERSION})" in result.err
    # A plan saved by an infra before the documented format: its action marks are not the names now.
    old = {"format": 1, "actions": [{**a, "action": "+"} for a in saved["actions"]], "made_against": {}}
    (local / "saved.plan").write_text(json.dumps(old))
    result = infra(capsys, "apply", "saved.plan", "--auto-approve")
    assert result.code == 1 and result.err.count("\n") == 1
    assert f"saved.plan: plan format 1 is not one this infra understands ({FORMAT_VERSION}); plan again" in result.err
    assert not (local / "roles").exists()


def test_a_printed_plan_is_the_saved_one_and_applies_unless_it_masks_a_secret(local, capsys):
    (local / "printed.json").write_text(infra(capsys, "plan", "--output", "json").out)
    result = infra(capsys, "apply", "printed.json")
    assert result.code == 1 and "its secret values are masked (printed by infra plan --output json)" in result.err
    config = json.loads((local / "nodes.json").read_text())
    del config["__base__"]["default_attributes"]["db_password"]
    (local / "nodes.json").write_text(json.dumps(config))
    printed = infra(capsys, "plan", "--output", "json").out
    infra(capsys, "plan", "--out", "saved.plan")
    assert json.loads(printed) == json.loads((local / "saved.plan").read_text())
    (local / "printed.json").write_text(printed)
    assert infra(capsys, "apply", "printed.json").code == 0
    assert (local / "roles" / "role-web.json").exists()


def test_state_push_refuses_a_file_that_is_not_a_state(local, capsys):
    infra(capsys, "apply", "--auto-approve")
    result = infra(capsys, "state", "push", "nodes.json", "--force")
    assert result.code == 1 and "nodes.json: not a state file written by infra" in result.err
    assert len(json.loads(infra(capsys, "state", "list", "-o", "json").out)) == 2


@pytest.mark.parametrize("command", [["state", "rm", "role.api"], ["state", "push", "pulled.json", "--force"]])
def test_state_rm_and_push_whose_lock_was_taken_meanwhile_write_nothing(local, capsys, monkeypatch, command):
    """Unlocked and locked by another run between taking the lock and writing: as an apply does before
    each state write, they look again, and stop in one line, the other run's lock and the state as they were."""
    from infra.state.local import LocalBackend
    from infra.state.lock import LockInfo

    infra(capsys, "apply", "--auto-approve")
    (local / "pulled.json").write_text(infra(capsys, "state", "pull").out)
    state = (local / ".infra" / "state.json").read_text()
    other = LockInfo(operation="apply", who="ops@ci-7")
    read = LocalBackend.read

    def read_then_lose_the_lock(backend):
        if backend.lock_path.exists():  # read under this run's lock: another run's from now on
            backend.lock_path.write_text(other.model_dump_json())
        return read(backend)

    monkeypatch.setattr(LocalBackend, "read", read_then_lose_the_lock)
    result = infra(capsys, *command)
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert "was removed while this run held it (infra state unlock?): stopped before writing the state; " \
           "nothing was written" in result.err
    assert (local / ".infra" / "state.json").read_text() == state
    assert LockInfo.model_validate_json((local / ".infra" / "state.lock").read_text()) == other


def test_a_damaged_lock_file_is_named_by_unlock_too(local, capsys):
    (local / ".infra").mkdir()
    (local / ".infra" / "state.lock").write_text("garbage")
    assert "remove .infra/state.lock" in infra(capsys, "apply", "--auto-approve").err.replace(str(local) + "/", "")
    result = infra(capsys, "state", "unlock", "anything")
    assert result.code == 1 and "names no holder (damaged); if no apply is running, remove it" in result.err


def test_a_file_system_refusal_names_the_path_in_one_line(local, capsys):
    (local / ".infra").write_text("a file where infra keeps its state folder")
    result = infra(capsys, "apply", "--auto-approve")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert ".infra" in result.err and "check the path and its permissions" in result.err
    assert "unexpected" not in result.err


@pytest.mark.parametrize("option, value, message", [
    ("--region", "nope-1", "--region: 'nope-1' is not an AWS region name"),
    ("--endpoint-url", "notaurl", "endpoint 'notaurl' (--endpoint-url / AWS_ENDPOINT_URL) is not an http(s) URL"),
    ("--endpoint-url", "http://[::1", "Invalid IPv6 URL"),
])
def test_bad_aws_options_are_one_line_before_any_call(local, capsys, option, value, message):
    result = infra(capsys, option, value, "plan")
    assert result.code == 1 and message in result.err and len(result.err.strip().splitlines()) == 1


def test_sigterm_stops_an_apply_like_ctrl_c_recording_what_finished_and_releasing_the_lock(local, capsys,
                                                                                          monkeypatch):
    import signal
    import time

    from infra.providers.files import FilesProvider

    write = FilesProvider.apply

    def terminated_while_writing(self, action, attributes, progress):
        os.kill(os.getpid(), signal.SIGTERM)  # as `timeout` or a cancelled CI job would
        time.sleep(0.2)  # still running when the signal arrives: the apply waits for it
        return write(self, action, attributes, progress)

    monkeypatch.setattr(FilesProvider, "apply", terminated_while_writing)
    handler_before = signal.getsignal(signal.SIGTERM)
    result = infra(capsys, "apply", "--auto-approve", "--parallelism", "1")
    assert result.code == 143 and "terminated" in result.err
    assert not (local / ".infra" / "state.lock").exists()
    recorded = json.loads(infra(capsys, "state", "list", "-o", "json").out)
    assert recorded and all((local / "roles" / f"role-{a.split('.')[1]}.json").exists() for a in recorded)
    assert signal.getsignal(signal.SIGTERM) == handler_before  # infra's handler lives only while it runs
    monkeypatch.setattr(FilesProvider, "apply", write)
    assert infra(capsys, "apply", "--auto-approve").code == 0  # a re-run finishes the rest


def test_plan_out_into_a_folder_that_does_not_exist_is_refused_without_making_it(local, capsys):
    result = infra(capsys, "plan", "--out", str(local / "nonexistent" / "dir" / "p.plan"))
    assert result.code == 1 and result.out == "" and result.err.count("\n") == 1
    assert f"the directory {local / 'nonexistent' / 'dir'} does not exist; make it first" in result.err
    assert not (local / "nonexistent").exists()


@pytest.mark.parametrize("given", ["/nonexistent.plan", "nope.plan", "plans/tf.json"])
def test_apply_of_a_plan_file_that_does_not_exist_says_so(local, capsys, given):
    result = infra(capsys, "apply", given, "--auto-approve")
    assert result.code == 1 and result.err.strip() == f"error: {given}: no such plan file"
    assert "unknown group" in infra(capsys, "apply", "nosuchgroup", "--auto-approve").err
