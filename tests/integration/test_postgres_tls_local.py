"""The local PostgreSQL's front door: TLS only, with a certificate of the tenant's own authority
that every client verifies (sslmode=verify-full), Airflow's connections among them, and a new
certificate made and loaded when the one in place is about to end."""

import datetime
import socket
import ssl
import struct

import psycopg2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from conftest import failure_messages

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def server_certificate(platform):
    """The certificate the running server presents (PostgreSQL's SSLRequest, then TLS)."""
    context = ssl.create_default_context(cafile=platform.tls()["sslrootcert"])
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as sock:
        sock.sendall(SSL_REQUEST)
        assert sock.recv(1) == b"S", "the server refused TLS"
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


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
    lines = [line.split() for line in (platform.home / "config" / "postgres" / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert {line[0] for line in lines} == {"local", "hostssl"}
    assert {line[-1] for line in lines} == {"scram-sha-256"}


def test_a_certificate_about_to_end_is_replaced_and_loaded(platform):
    """Re-sign the server's certificate by hand to end tomorrow (inside the 30-day renewal
    window): the next run makes a new one for the configured lifetime and the server presents it
    without a restart."""
    config = platform.home / "config"
    ca_cert = x509.load_pem_x509_certificate((config / "tls" / "postgres-ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((config / "secrets" / "postgres-ca.key").read_bytes(), None)
    current = x509.load_pem_x509_certificate((config / "postgres" / "server.crt").read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    ending = (x509.CertificateBuilder().subject_name(current.subject).issuer_name(ca_cert.subject)
              .public_key(current.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    (config / "postgres" / "server.crt").write_bytes(ending.public_bytes(serialization.Encoding.PEM))
    [(started,)] = platform.sql("SELECT pg_postmaster_start_time()::text")
    platform.sql("SELECT pg_reload_conf()")
    assert server_certificate(platform).not_valid_after_utc < now + datetime.timedelta(days=2)

    run = platform.run()
    assert run.rc == 0 and run.changed() > 0, failure_messages(run)
    presented = server_certificate(platform)
    assert presented.not_valid_after_utc > now + datetime.timedelta(days=300)
    assert presented.issuer == ca_cert.subject
    assert platform.sql("SELECT pg_postmaster_start_time()::text") == [(started,)], "the server restarted"
    run = platform.run()
    assert run.rc == 0 and run.changed() == 0, "the run after the renewal changed something"
