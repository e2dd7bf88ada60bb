"""Reading haproxy's master CLI answers (as haproxy 2.6 prints them); haproxy itself runs in the integration tests."""

import pytest

from infra.providers.haproxy import HAProxyError, ServerState, parse_processes, parse_servers

SHOW_PROC = """#<PID>          <type>          <reloads>       <uptime>        <version>
16886           master          3 [failed: 1]   0d00h10m21s     2.6.12-1+deb12u4
# workers
15271           worker          1               0d00h00m04s     2.6.12-1+deb12u4
# old workers
15001           worker          2               0d00h00m09s     2.6.12-1+deb12u4
# programs

"""

SERVERS = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 api 1 b1 127.0.0.1 2 0 1 1 193 6 3 4 6 0 0 0 - 18081 - 0 0 - - 0
3 api 2 b2 127.0.0.1 0 0 1 1 4 8 2 0 6 0 0 0 - 18082 - 0 0 - - 0

"""  # noqa: E501  (haproxy's header line, whole, as `show servers state` prints it)


def test_show_proc_gives_the_master_its_reload_counters_and_only_the_current_workers():
    processes = parse_processes(SHOW_PROC)
    assert (processes.master, processes.reloads, processes.failed, processes.workers) == (16886, 3, 1, (15271,))


def test_an_answer_that_is_not_show_proc_is_an_error():
    with pytest.raises(HAProxyError, match="not haproxy's `show proc`"):
        parse_processes("Unknown command.\n", "/run/haproxy-master.sock")


def test_show_servers_state_gives_each_server_and_whether_it_is_up():
    assert parse_servers(SERVERS) == [ServerState("api", "b1", "127.0.0.1", 18081, True),
                                      ServerState("api", "b2", "127.0.0.1", 18082, False)]
    assert parse_servers("1\n# be_id ...\n") == []
