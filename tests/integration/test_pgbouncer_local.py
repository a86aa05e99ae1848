"""PgBouncer in front of the local PostgreSQL (postgres_pgbouncer, on in inventories/local), on the
session's local_platform, whose pool (lib/local_platform.PGBOUNCER_POOL) is smaller than what
Airflow's components may open: Airflow reaches the database only through it, over TLS verified
against the tenant's authority; it keeps no password (it logs in to the server with a client
certificate and reads scram secrets through one function); and the server's connections stay
within its pool while DAG runs execute."""

import os
import pathlib
import stat
import threading
import time

import psycopg2
import pytest

from lib.airflow_dags import add_dag, finished, token, trigger
from lib.local_platform import AIRFLOW_USER, PGBOUNCER_POOL, connected_ports, program_pids, uid_of

DAG = "edp_pgbouncer_probe"
# Parallel tasks, each reading and writing Airflow's database through the execution API, with
# XComs between them: several runs at once keep every component's pool busy.
DAG_SOURCE = '''
import time

from airflow.sdk import dag, task


@dag(dag_id="%s", schedule=None, catchup=False, max_active_runs=4, tags=["edp-test"])
def probe():
    @task
    def numbers():
        return list(range(6))

    @task
    def square(n):
        time.sleep(1)
        return n * n

    @task
    def total(values):
        return sum(values)

    total(square.expand(n=numbers()))


probe()
''' % DAG


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def through_pgbouncer(platform, user="airflow", password=None, **options):
    settings = dict(host="127.0.0.1", port=platform.pgbouncer_port, user=user, dbname="airflow", connect_timeout=5,
                    password=platform.password("airflow") if password is None else password)
    settings.update(platform.tls())
    settings.update(options)
    return psycopg2.connect(**settings)


def as_pgbouncer(platform, dbname="airflow"):
    """A direct connection to the server as PgBouncer's role, with its client certificate."""
    folder = platform.home / "config" / "pgbouncer"
    return psycopg2.connect(host="127.0.0.1", port=platform.port, user="pgbouncer", dbname=dbname, connect_timeout=5,
                            sslcert=str(folder / "pgbouncer.crt"), sslkey=str(folder / "pgbouncer.key"),
                            **platform.tls())


def supervisord_conf(platform):
    return platform.home / "config" / "airflow" / "supervisord.conf"


def test_airflow_reaches_the_database_only_through_pgbouncer(platform):
    pids = program_pids(supervisord_conf(platform), "airflow-")
    assert pids, "no Airflow process runs"
    ports = {port for port, _ in connected_ports(pids)}
    assert platform.pgbouncer_port in ports, "no Airflow connection to PgBouncer"
    assert platform.port not in ports, "an Airflow process connects to the server itself"


def test_a_connection_through_pgbouncer_answers_as_airflow_over_tls(platform):
    with through_pgbouncer(platform) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database()")
        assert cur.fetchone() == ("airflow", "airflow")
    # PgBouncer's own session to the server is encrypted too.
    rows = platform.sql("SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                        "WHERE a.usename IN ('airflow', 'pgbouncer')")
    assert rows and all(ssl for (ssl,) in rows), rows


def test_pgbouncer_refuses_a_connection_without_tls(platform):
    with pytest.raises(psycopg2.OperationalError, match="SSL required"):
        through_pgbouncer(platform, sslmode="disable")


def test_verify_full_refuses_a_host_name_pgbouncers_certificate_is_not_for(platform):
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        through_pgbouncer(platform, host="db.example.invalid", hostaddr="127.0.0.1")


def test_a_wrong_password_and_the_superuser_are_refused(platform):
    with pytest.raises(psycopg2.OperationalError, match="SASL authentication failed"):
        through_pgbouncer(platform, password="not-the-password")
    # The auth function returns no superuser's secret: the superuser cannot log in through it.
    with pytest.raises(psycopg2.OperationalError, match="no such user"):
        through_pgbouncer(platform, user="postgres", password=platform.password("superuser"))


def test_pgbouncer_keeps_no_password_and_runs_as_its_own_user(platform):
    folder = platform.home / "config" / "pgbouncer"
    assert sorted(os.listdir(folder)) == ["pgbouncer.crt", "pgbouncer.ini", "pgbouncer.key"]
    ini = (folder / "pgbouncer.ini").read_text()
    assert "auth_file" not in ini and "password" not in ini.lower()
    assert platform.password("airflow") not in ini
    key = os.stat(folder / "pgbouncer.key")
    assert stat.S_IMODE(key.st_mode) == 0o600
    assert platform.sql("SELECT rolpassword IS NULL, rolsuper FROM pg_authid WHERE rolname = 'pgbouncer'") == [
        (True, False)]
    [pid] = program_pids(supervisord_conf(platform), "pgbouncer")
    pgbouncer_uid = uid_of(pid)[0]
    assert pgbouncer_uid not in (0, os.stat(platform.home / "data" / "postgres").st_uid)
    assert key.st_uid == pgbouncer_uid
    # Airflow's user cannot read PgBouncer's key.
    assert pathlib.Path(folder).stat().st_mode & 0o007 == 0 and AIRFLOW_USER != "pgbouncer"


def test_pgbouncers_role_reads_non_superuser_secrets_and_nothing_else(platform):
    with as_pgbouncer(platform) as conn, conn.cursor() as cur:
        cur.execute("SELECT usename, passwd FROM pgbouncer.get_auth('airflow')")
        [(user, secret)] = cur.fetchall()
        assert user == "airflow" and secret.startswith("SCRAM-SHA-256$")
        cur.execute("SELECT count(*) FROM pgbouncer.get_auth('postgres')")
        assert cur.fetchone() == (0,)
    for query in ("SELECT * FROM pg_shadow", "SELECT count(*) FROM dag", "CREATE TABLE edp_probe (id int)"):
        with as_pgbouncer(platform) as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(query)
    # Its certificate opens no other database: there the server asks for a password it has none of.
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        as_pgbouncer(platform, dbname="postgres")
    # The Airflow role owns the database but cannot replace the function.
    with platform.connect("airflow") as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text) "
                        "RETURNS TABLE (usename name, passwd text) LANGUAGE sql AS $$ SELECT NULL::name, NULL $$")


def test_the_servers_connections_stay_within_the_pool_while_dag_runs_execute(platform):
    bearer = token(platform)
    add_dag(platform, DAG, DAG_SOURCE, bearer)
    airflow_pids = program_pids(supervisord_conf(platform), "airflow-")
    samples, done = [], threading.Event()

    def sample():
        with platform.connect("postgres", dbname="postgres") as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                while not done.is_set():
                    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'airflow'")
                    server = cur.fetchone()[0]
                    clients = sum(1 for port, _ in connected_ports(airflow_pids) if port == platform.pgbouncer_port)
                    samples.append((server, clients))
                    time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        runs = [trigger(platform, DAG, bearer) for _ in range(4)]
        states = [finished(platform, path, bearer, timeout=300)["state"] for path in runs]
    finally:
        done.set()
        sampler.join(10)
    assert states == ["success"] * 4
    assert samples, "no sample taken"
    most_server = max(server for server, _ in samples)
    most_clients = max(clients for _, clients in samples)
    print("\n%d samples: at most %d server connections for Airflow, %d Airflow connections to PgBouncer (pool %d)"
          % (len(samples), most_server, most_clients, PGBOUNCER_POOL))
    assert most_server <= PGBOUNCER_POOL
    # The pool mattered: Airflow held more connections than the server was given.
    assert most_clients > PGBOUNCER_POOL
