"""The postgres role's bootstrap Job, as rendered for prod, run against a real PostgreSQL: its
command and its SQL (from the ConfigMap) make the Airflow role and database with the password
from the Secret, a password with quotes and URL characters included, any number of times, and
the password is never on the command line."""

import re
import subprocess

import psycopg2
import pytest

from conftest import Ansible, render_objects
from lib.pgserver import PgServer

PASSWORD = "p@ss:w/o'rd\"x;-- $HOME"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The bootstrap container's shell command and the bootstrap.sql it runs, as rendered."""
    objects = render_objects(Ansible(tmp_path_factory.mktemp("ansible")), tmp_path_factory.mktemp("render"), "prod",
                             "--limit", "finance")
    [bootstrap] = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "postgres-bootstrap"]
    [config] = [o for o in objects if o["kind"] == "ConfigMap" and "bootstrap.sql" in (o.get("data") or {})]
    [container] = bootstrap["spec"]["template"]["spec"]["containers"]
    return container, config["data"]["bootstrap.sql"]


def run_job(container, sql, server, tmp_path, password=PASSWORD):
    (tmp_path / "bootstrap.sql").write_text(sql)
    command = container["command"][-1].replace("/bootstrap/bootstrap.sql", str(tmp_path / "bootstrap.sql"))
    command = re.sub(r"-h postgres -p \d+", "-h 127.0.0.1 -p %d" % server.port, command)
    env = {"PATH": "/usr/bin:/bin", "PGPASSWORD": server.password, "AIRFLOW_USER": "airflow",
           "AIRFLOW_DATABASE": "airflow", "AIRFLOW_PASSWORD": password}
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)


def test_the_password_is_not_on_the_command_line(job):
    container, _ = job
    assert "AIRFLOW_PASSWORD" not in " ".join(container["command"])
    assert {e["name"] for e in container["env"]} >= {"AIRFLOW_PASSWORD"}, "the password comes from the environment"


def test_the_job_makes_the_role_and_database_with_the_secrets_password_any_number_of_times(job, tmp_path):
    container, sql = job
    with PgServer() as server:
        for _ in range(2):
            done = run_job(container, sql, server, tmp_path)
            assert done.returncode == 0, done.stderr
        with psycopg2.connect(host="127.0.0.1", port=server.port, user="airflow", password=PASSWORD,
                              dbname="airflow", connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_user, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'airflow'")
            assert cur.fetchone() == ("airflow", "airflow")
        # A new password in the Secret: the next run sets it, the old one stops working.
        assert run_job(container, sql, server, tmp_path, password="rotated-" + PASSWORD).returncode == 0
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(host="127.0.0.1", port=server.port, user="airflow", password=PASSWORD,
                             dbname="airflow", connect_timeout=5)
