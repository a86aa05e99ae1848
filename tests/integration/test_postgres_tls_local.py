"""The local PostgreSQL's front door: TLS only, with a certificate of the tenant's own authority
that every client verifies (sslmode=verify-full), Airflow's connections among them, and a new
certificate made and loaded when the one in place is about to end."""

import datetime

import psycopg2
import pytest

from conftest import failure_messages
from lib.tls import presented_certificate, resign_to_end_tomorrow


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def server_certificate(platform):
    return presented_certificate(platform.port, platform.tls()["sslrootcert"])


def test_a_connection_without_tls_is_refused(platform):
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        psycopg2.connect(host="127.0.0.1", port=platform.port, user="airflow", dbname="airflow",
                         password=platform.password("airflow"), sslmode="disable", connect_timeout=5)


def test_verify_full_refuses_a_host_name_the_certificate_is_not_for(platform):
    # The right address under a name the certificate does not carry, as a spoofed DNS entry would give.
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        psycopg2.connect(host="db.example.invalid", hostaddr="127.0.0.1", port=platform.port, user="airflow",
                         dbname="airflow", password=platform.password("airflow"), connect_timeout=5,
                         **platform.tls())


def test_every_connection_of_airflow_and_the_exporter_is_encrypted(platform):
    rows = platform.sql("SELECT a.usename, a.application_name, s.ssl FROM pg_stat_activity a "
                        "JOIN pg_stat_ssl s USING (pid) WHERE a.backend_type = 'client backend' "
                        "AND a.pid <> pg_backend_pid()")
    users = {user for user, _, _ in rows}
    assert "airflow" in users, "no Airflow connection to look at: %s" % rows
    assert [row for row in rows if not row[2]] == [], "connections in clear text"


def test_the_only_network_entries_of_pg_hba_are_hostssl_with_scram(platform):
    """scram-sha-256 over TLS for everyone, but PgBouncer's role, which logs in to the Airflow
    database with its client certificate (test_pgbouncer_local.py)."""
    lines = [line.split() for line in (platform.home / "config" / "postgres" / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert {line[0] for line in lines} == {"local", "hostssl"}
    certificate = [line for line in lines if line[-1] == "cert"]
    assert certificate == [["hostssl", "airflow", "pgbouncer", "127.0.0.1/32", "cert"]]
    assert {line[-1] for line in lines if line not in certificate} == {"scram-sha-256"}


def test_certificates_about_to_end_are_replaced_and_loaded(platform):
    """Re-sign the server's and PgBouncer's certificates by hand to end tomorrow (inside the 30-day
    renewal window): the next run makes new ones for the configured lifetime; the server presents
    its own without a restart, PgBouncer its own after a restart."""
    config = platform.home / "config"
    now = datetime.datetime.now(datetime.timezone.utc)
    cafile = config / "tls" / "postgres-ca.crt"
    for cert in (config / "postgres" / "server.crt", config / "pgbouncer" / "pgbouncer.crt"):
        ca_cert = resign_to_end_tomorrow(cert, cafile, config / "secrets" / "postgres-ca.key")
    [(started,)] = platform.sql("SELECT pg_postmaster_start_time()::text")
    platform.sql("SELECT pg_reload_conf()")
    assert server_certificate(platform).not_valid_after_utc < now + datetime.timedelta(days=2)

    run = platform.run()
    assert run.rc == 0 and run.changed() > 0, failure_messages(run)
    for port in (platform.port, platform.pgbouncer_port):
        presented = presented_certificate(port, cafile)
        assert presented.not_valid_after_utc > now + datetime.timedelta(days=300), port
        assert presented.issuer == ca_cert.subject
    assert platform.sql("SELECT pg_postmaster_start_time()::text") == [(started,)], "the server restarted"
    run = platform.run()
    assert run.rc == 0 and run.changed() == 0, "the run after the renewal changed something"
