"""The local target end to end: site.yml -i inventories/local brings up the tenant's home and a
real PostgreSQL (the OS packages' binaries, run as the postgres user) on this machine."""

import base64
import json
import os
import pathlib
import pwd
import stat
import subprocess
import tempfile
import time

import psycopg2
import pytest
import yaml

from conftest import Ansible, failure_messages
from lib.pgserver import free_port
from lib.local_platform import (AIRFLOW_USER, listening_addresses, listening_sockets, not_on_loopback,
                                processes_under, uid_of)

DIRS = ["config", "data", "logs", "backups", "dags", "run"]


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def test_bring_up_creates_the_tenant_home(platform):
    for name in DIRS:
        path = platform.home / name
        assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o755, path
    secrets = platform.home / "config" / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for name in ("superuser", "airflow"):
        assert stat.S_IMODE((secrets / ("postgres-" + name)).stat().st_mode) == 0o600
    # The superuser's is generated; Airflow's is the inventory's (the shared platform sets one
    # full of URL characters), written as given.
    assert len(platform.password("superuser")) == 32
    assert platform.password("airflow") == platform.airflow_db_password


def test_airflow_logs_in_with_scram_and_owns_its_database(platform):
    with platform.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database(), "
                    "(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'airflow')")
        assert cur.fetchone() == ("airflow", "airflow", "airflow")
        cur.execute("CREATE TABLE probe (id int)")  # the owner can create tables in it
    stored = platform.sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'airflow'")[0][0]
    assert stored.startswith("SCRAM-SHA-256$")


def test_a_wrong_password_is_refused(platform):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        platform.connect(password="not-the-password")


def test_hba_allows_no_trust_and_no_peer(platform):
    """scram-sha-256 everywhere but PgBouncer's client certificate, for its role and the Airflow database only."""
    rules = platform.sql("SELECT auth_method, database, user_name FROM pg_hba_file_rules")
    assert {method for method, _, _ in rules if method != "cert"} == {"scram-sha-256"}
    assert [(database, users) for method, database, users in rules if method == "cert"] == [
        (["airflow"], ["pgbouncer"])]


def test_settings_equal_the_tuning_of_the_memory_limit(platform):
    from ansible_collections.edp.platform.plugins.filter.pg_tuning import pg_tuning

    tuned = pg_tuning("1Gi", "1", 100)  # the role's default postgres_resources.limits
    for name in ("shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem", "max_connections"):
        [(value,)] = platform.sql("SHOW %s" % name)
        assert value == tuned[name], (name, value, tuned[name])
    assert platform.sql("SHOW password_encryption") == [("scram-sha-256",)]
    assert platform.sql("SHOW archive_mode") == [("on",)]


def test_wal_segments_arrive_in_the_archive(platform):
    archive = platform.home / "backups" / "wal"
    platform.sql("CREATE TABLE IF NOT EXISTS wal_probe AS SELECT generate_series(1, 10000) AS n", dbname="airflow")
    [(segment,)] = platform.sql("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 30
    while not (archive / segment).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (archive / segment).exists(), "WAL segment %s never reached %s" % (segment, archive)
    assert platform.sql("SELECT failed_count FROM pg_stat_archiver") == [(0,)]


def test_rerun_changes_nothing(platform):
    run = platform.run()
    assert run.rc == 0 and run.changed() == 0, [
        (t["task"]["name"]) for p in run.results for t in p["tasks"] if t["hosts"].get("demo", {}).get("changed")]


def test_vvv_output_contains_no_password(platform):
    run = platform.run("-vvv", json_output=False)
    assert run.rc == 0
    for name in ("superuser", "airflow"):
        assert platform.password(name) not in run.output, "the %s password was printed" % name
    for name in ("airflow-admin-password", "airflow-fernet-key", "airflow-jwt-secret", "airflow-api-secret-key"):
        assert platform.secret(name) not in run.output, "%s was printed" % name


def test_airflow_reports_every_component_healthy(platform):
    status, health = platform.api("GET", "/api/v2/monitor/health")
    assert status == 200
    assert {name: part["status"] for name, part in health.items()} == {
        "metadatabase": "healthy", "scheduler": "healthy", "triggerer": "healthy", "dag_processor": "healthy"}


def test_the_admin_logs_in_and_has_admin_rights(platform):
    status, body = platform.api("POST", "/auth/token",
                                {"username": "admin", "password": platform.secret("airflow-admin-password")})
    assert status == 201
    status, users = platform.api("GET", "/auth/fab/v1/users", token=body["access_token"])
    [admin] = [u for u in users["users"] if u["username"] == "admin"]
    assert [r["name"] for r in admin["roles"]] == ["Admin"]


def test_no_secret_was_in_the_process_table_during_the_bring_up(platform):
    """Sampled every 0.1 s during the first bring-up (tests/conftest.py): no generated secret on any
    command line (every user of the host can read those), and none in the environment of a
    process of a user it does not belong to. The first admin's password in no environment at all."""
    sampler = platform.process_sampler
    secrets_dir = platform.home / "config" / "secrets"
    found = {path.name: path.read_text().strip() for path in secrets_dir.iterdir() if path.is_file()}
    assert {"airflow-admin-password", "postgres-superuser", "postgres-airflow", "airflow-jwt-secret"} <= set(found)
    airflow_uid = pwd.getpwnam(AIRFLOW_USER).pw_uid
    # Airflow's components get the keys they share, and their database password, in their
    # environment (from airflow.env, the airflow user's); root may hold any of them.
    allowed = {name: {0, airflow_uid} if name.startswith("airflow-") or name == "postgres-airflow" else {0}
               for name in found}
    allowed["airflow-admin-password"] = set()
    assert sampler.passes > 100 and any(b"create-admin.py" in s["cmdline"] for s in sampler.samples.values()), (
        "the sampler did not see the bring-up (%s)" % sampler.summary())
    findings = sampler.findings(found, env_allowed_uids=allowed)
    assert findings == [], "secrets in the process table (%s):\n%s" % (sampler.summary(), "\n".join(findings))


def airflow_program_pids(platform):
    """{program: pid} of the Airflow programs (and the Spark History Server) supervisord runs."""
    conf = platform.home / "config" / "airflow" / "supervisord.conf"
    pids = {}
    for program in ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "spark-history"):
        out = subprocess.run(["supervisorctl", "-c", str(conf), "pid", program], capture_output=True, text=True)
        assert out.stdout.strip().isdigit() and int(out.stdout) > 0, (program, out.stdout, out.stderr)
        pids[program] = int(out.stdout)
    return pids


def test_every_airflow_process_runs_as_the_airflow_user(platform):
    from lib.local_platform import _process_tree

    airflow_uid = pwd.getpwnam(AIRFLOW_USER).pw_uid
    assert airflow_uid != 0
    wrong = {}
    for program, pid in airflow_program_pids(platform).items():
        tree = _process_tree([pid])
        assert tree, program
        for child in tree:
            try:
                uids = uid_of(child)
            except (OSError, RuntimeError):
                continue  # ended meanwhile
            if set(uids) != {airflow_uid}:
                wrong["%s pid %d" % (program, child)] = uids
    assert not wrong, "not running as %s (uid %d): %s" % (AIRFLOW_USER, airflow_uid, wrong)
    # supervisord itself stays root (it starts and stops the programs); nothing of Airflow does.
    supervisord_pid = int((platform.home / "run" / "airflow" / "supervisord.pid").read_text())
    assert uid_of(supervisord_pid)[0] == 0


def as_airflow(*argv):
    return subprocess.run(["runuser", "-u", AIRFLOW_USER, "--"] + [str(a) for a in argv], capture_output=True, text=True)


def test_the_airflow_user_owns_only_what_airflow_writes(platform):
    home = platform.home
    secrets_dir = home / "config" / "secrets"
    for name in ("postgres-superuser", "postgres-airflow", "airflow-admin-password", "airflow-fernet-key"):
        path = secrets_dir / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_uid == 0, path
        read = as_airflow("cat", path)
        assert read.returncode != 0 and "Permission denied" in read.stderr, "%s can read %s" % (AIRFLOW_USER, name)
    env = home / "config" / "airflow" / "airflow.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600 and pwd.getpwuid(env.stat().st_uid).pw_name == AIRFLOW_USER
    assert as_airflow("test", "-r", env).returncode == 0
    # Read-only for it: its virtualenv, its commands, the DAGs, supervisord's logs and configuration.
    for path in (platform.venv / "bin", platform.venv / "bin" / "airflow", home / "run" / "airflow" / "edp-airflow",
                 home / "dags", home / "logs" / "airflow", home / "config" / "airflow" / "supervisord.conf"):
        assert as_airflow("test", "-w", path).returncode != 0, "%s can write %s" % (AIRFLOW_USER, path)
    # Writable for it: Airflow's home and its own logs, where a DAG run's task logs land.
    for path in (home / "data" / "airflow", home / "logs" / "airflow" / "tasks", home / "data" / "spark" / "events"):
        assert pwd.getpwuid(path.stat().st_uid).pw_name == AIRFLOW_USER, path
    owners = {pwd.getpwuid(p.stat().st_uid).pw_name for p in (home / "logs" / "airflow" / "tasks").rglob("*")}
    assert owners <= {AIRFLOW_USER}, "files in Airflow's logs not written by %s: %s" % (AIRFLOW_USER, owners)


def test_tokens_live_the_configured_lifetime(platform):
    defaults = yaml.safe_load((pathlib.Path(__file__).parents[2] / "roles" / "airflow" / "defaults" / "main.yml").read_text())
    status, body = platform.api("POST", "/auth/token",
                                {"username": "admin", "password": platform.secret("airflow-admin-password")})
    assert status == 201
    payload = body["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == defaults["airflow_jwt_expiration"], claims


def test_airflow_settings_are_the_kubernetes_ones_for_this_host(platform):
    env = (platform.home / "config" / "airflow" / "airflow.env").read_text()
    assert stat.S_IMODE((platform.home / "config" / "airflow" / "airflow.env").stat().st_mode) == 0o600
    assert "AIRFLOW__CORE__AUTH_MANAGER='airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager'" in env
    assert "AIRFLOW__CORE__EXECUTOR='LocalExecutor'" in env and "AIRFLOW__LOGGING__JSON_LOGS='True'" in env


def test_the_api_server_listens_on_this_host_only(platform):
    # 0100007F is 127.0.0.1 in the kernel's byte order; 00000000 (or all zeros in tcp6) is every interface.
    assert listening_addresses(platform.airflow_port) == {"0100007F"}


def test_every_process_the_platform_started_listens_on_this_host_only(platform):
    """The local target's default deny: from the kernel's socket tables, every TCP socket listening
    and every UDP socket bound by a process the platform started (supervisord and its children -
    Airflow's components, the History Server, the monitoring role's -, PostgreSQL, ...) is on
    127.0.0.1 or ::1. Airflow's log servers (8793, 8794) are not started at all."""
    pids = processes_under(platform.root)
    sockets = listening_sockets(pids)
    commands = " ".join(s[4] for s in sockets)
    assert "supervisord" in " ".join(open("/proc/%d/cmdline" % p).read() for p in pids if os.path.exists(
        "/proc/%d/cmdline" % p)), "supervisord was not found among %d processes" % len(pids)
    assert "postgres" in commands and "api_server" in commands, "too few sockets found: %s" % sockets
    assert not_on_loopback(sockets) == [], "listening beyond this host: %s" % not_on_loopback(sockets)
    assert not [s for s in sockets if s[2] in (8793, 8794)], "a log server runs: %s" % sockets


def test_a_changed_setting_is_reloaded_and_one_needing_a_restart_restarts(platform):
    [(pid_before,)] = platform.sql("SELECT pg_postmaster_start_time()::text")
    run = platform.run(extra_vars={"postgres_settings": {"work_mem": "8MB"}})
    assert run.rc == 0 and run.changed() > 0, failure_messages(run)
    assert platform.sql("SHOW work_mem") == [("8MB",)]
    assert platform.sql("SELECT pg_postmaster_start_time()::text") == [(pid_before,)], "reload restarted"
    run = platform.run(extra_vars={"postgres_settings": {"work_mem": "8MB", "shared_buffers": "128MB"}})
    assert run.rc == 0, failure_messages(run)
    assert platform.sql("SHOW shared_buffers") == [("128MB",)]
    assert platform.sql("SELECT pg_postmaster_start_time()::text") != [(pid_before,)]


def test_check_mode_on_a_new_host_creates_nothing(tmp_path):
    root = pathlib.Path(tempfile.mkdtemp(prefix="edp-check-", dir="/tmp"))
    try:
        run = Ansible(tmp_path).playbook("site.yml", "local", "--check", vault=False,
                                         extra_vars={"postgres_port": free_port()}, env={"EDP_LOCAL_ROOT": root})
        assert run.rc == 0, failure_messages(run)
        assert run.changed("demo") > 0
        assert list(root.iterdir()) == []
    finally:
        subprocess.run(["rm", "-rf", str(root)])




def test_a_new_airflow_setting_restarts_the_components_with_it(platform):
    run = platform.run(extra_vars={"airflow_config": {"AIRFLOW__CORE__PARALLELISM": "3"}})
    assert run.rc == 0, failure_messages(run)
    restarted = run.task_results("Restart the components on a new configuration")["demo"]
    assert restarted.get("changed"), "the components were not restarted"
    assert "AIRFLOW__CORE__PARALLELISM='3'" in (platform.home / "config" / "airflow" / "airflow.env").read_text()
    status, health = platform.api("GET", "/api/v2/monitor/health")
    assert {part["status"] for part in health.values()} == {"healthy"}
