"""Living with the local target: the summary at the end of a run, make status, stop and start,
the backup schedule's cron daemon, and teardown with and without the data.

The teardown tests remove the shared platform, so they are marked to run after every other test
of it (conftest.py orders them last)."""

import os
import pathlib
import subprocess

import pytest

from conftest import failure_messages

CONTROL = "run/edp-platform"


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def processes_below(root):
    """{pid: command line} of every process whose command line names root, and their children."""
    table = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = pathlib.Path("/proc/%s/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode()
            ppid = int(pathlib.Path("/proc/%s/stat" % pid).read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        table[int(pid)] = (ppid, cmdline)
    ours = {pid for pid, (_, cmdline) in table.items() if str(root) in cmdline and running(pid)}
    grown = True
    while grown:
        children = {pid for pid, (ppid, _) in table.items() if ppid in ours} - ours
        ours |= children
        grown = bool(children)
    return {pid: table[pid][1] for pid in ours if running(pid)}


def running(pid):
    """Alive and not a zombie (where PID 1 reaps nothing, a daemon's exited child stays one)."""
    try:
        return pathlib.Path("/proc/%d/stat" % pid).read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def crontab_lines(root):
    listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return [line for line in listed.stdout.splitlines() if str(root) in line]


def summary(run):
    [result] = run.task_results("Say where everything is and how to live with it").values()
    return result["msg"]


def status_components(run):
    [result] = run.task_results("Ask every component").values()
    return {c["name"]: c["state"] for c in result["components"]}


def test_the_run_ends_with_every_component_its_url_and_what_to_do(platform):
    lines = summary(platform.first_run)
    text = "\n".join(lines)
    for component in ("postgres", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
                      "airflow-triggerer", "program airflow-scheduler", "program prometheus", "spark-history-server",
                      "cron"):
        # The monitoring programs start last: within their startsecs they are pending, not down.
        states = ["UP", "PENDING"] if component == "program prometheus" else ["UP"]
        assert any(line.split()[:len(component.split()) + 1] in [component.split() + [state] for state in states]
                   for line in lines), (component, text)
    assert "http://127.0.0.1:%d" % platform.airflow_port in text
    assert str(platform.home / "config" / "secrets" / "airflow-admin-password") in text
    assert "postgresql://airflow@127.0.0.1:%d/airflow" % platform.port in text
    assert "make stop" in text and "make start" in text and "make teardown" in text
    # This machine has no systemd: the summary says what brings the platform back after a reboot.
    assert "nothing starts it (this machine does not run systemd): run make start" in text
    assert "NOT UP" not in text
    assert any(line.split()[:3] in (["prometheus", "targets", "UP"], ["prometheus", "targets", "PENDING"])
               for line in lines), text
    # The first run took no dump yet: that is said, not hidden.
    assert platform.first_run.rc == 0


def test_the_configuration_is_for_this_host_and_the_logs_are_quiet(platform):
    env = (platform.home / "config" / "airflow" / "airflow.env").read_text()
    assert "AIRFLOW__KUBERNETES_EXECUTOR__" not in env  # the LocalExecutor runs here
    assert "AIRFLOW__METRICS__STATSD_ON='False'" in env  # no statsd exporter on this host
    assert "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL='30'" in env  # a new DAG shows within 30 s
    assert len(platform.secret("airflow-jwt-secret").encode()) == 64  # what HMAC-SHA512 wants
    logs = platform.home / "logs" / "airflow"
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        text = (logs / (component + ".log")).read_text(errors="replace")
        noisy = [line for line in text.splitlines() if "statsd" in line.lower() or "InsecureKeyLength" in line
                 or "minimum recommended length" in line]
        assert not noisy, (component, noisy[:3])


def test_the_schedule_has_a_cron_daemon_to_fire_it(platform):
    assert subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0
    entries = [line for line in crontab_lines(platform.root) if line.startswith("#Ansible: ")]
    assert len(entries) == 2, entries  # the dump and the base backup


def test_status_is_green_then_names_a_stopped_component_and_start_brings_it_back(platform):
    run = platform.run(playbook="playbooks/status.yml")
    assert run.rc == 0, failure_messages(run)
    states = status_components(run)
    # Before the first scheduled dump the backups are pending, not down (a new tenant is green).
    not_up = {name: state for name, state in states.items() if state != "up"}
    assert set(not_up.values()) <= {"pending"} and set(not_up) <= {"backups", "prometheus targets"}, states
    supervisor = platform.home / "config" / "airflow" / "supervisord.conf"
    subprocess.run(["supervisorctl", "-c", str(supervisor), "stop", "airflow-triggerer"], check=True,
                   capture_output=True)
    try:
        run = platform.run(playbook="playbooks/status.yml")
        assert run.rc != 0
        assert status_components(run)["program airflow-triggerer"] == "down"
        assert "program airflow-triggerer" in failure_messages(run).partition("down: ")[2]
    finally:
        run = platform.run(playbook="playbooks/start.yml")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    run = platform.run(playbook="playbooks/status.yml")
    assert run.rc == 0, failure_messages(run)


def test_stop_leaves_no_process_and_start_brings_everything_back(platform):
    before = processes_below(platform.home)
    assert any("supervisord" in cmd for cmd in before.values()) and any("postgres" in cmd for cmd in before.values())
    run = platform.run(playbook="playbooks/stop.yml")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    alive = [pid for pid in before if running(pid)]
    assert not alive and not processes_below(platform.home), processes_below(platform.home)
    assert platform.run(playbook="playbooks/status.yml").rc != 0
    assert platform.run(playbook="playbooks/stop.yml").changed() == 0  # nothing left to stop
    run = platform.run(playbook="playbooks/start.yml")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    run = platform.run(playbook="playbooks/status.yml")
    assert run.rc == 0, failure_messages(run)
    assert platform.run(playbook="playbooks/start.yml").changed() == 0  # nothing left to start


@pytest.mark.local_platform_teardown
def test_teardown_without_a_yes_removes_nothing(platform):
    run = platform.run(playbook="playbooks/teardown.yml")
    assert run.rc != 0
    assert "Nothing removed: answer yes, or pass -e teardown_confirm=yes" in failure_messages(run)
    assert platform.run(playbook="playbooks/status.yml").rc == 0


@pytest.mark.local_platform_teardown
def test_teardown_keeping_the_data_and_make_local_brings_it_back(platform):
    platform.sql("CREATE TABLE kept_through_teardown (n int); INSERT INTO kept_through_teardown VALUES (42)",
                 user="airflow", dbname="airflow")
    run = platform.run(playbook="playbooks/teardown.yml", extra_vars={"teardown_keep_data": True})
    assert run.rc == 0, failure_messages(run)
    assert not processes_below(platform.home) and not crontab_lines(platform.root)
    assert (platform.home / "data" / "postgres").is_dir()
    run = platform.run()
    assert run.rc == 0, failure_messages(run)
    assert platform.sql("SELECT n FROM kept_through_teardown", user="airflow", dbname="airflow") == [(42,)]
    assert platform.run(playbook="playbooks/status.yml").rc == 0


@pytest.mark.local_platform_teardown
def test_teardown_with_a_yes_removes_every_process_entry_and_file(platform):
    run = platform.run(playbook="playbooks/teardown.yml", extra_vars={"teardown_confirm": "yes"})
    assert run.rc == 0, failure_messages(run)
    assert not processes_below(platform.home)
    assert not crontab_lines(platform.root)
    assert not platform.home.exists()
    # A second teardown finds nothing to do.
    run = platform.run(playbook="playbooks/teardown.yml", extra_vars={"teardown_confirm": "yes"})
    assert run.rc == 0 and run.changed() == 0, failure_messages(run)
