"""The postgres role's bootstrap Job, as rendered for prod, run against a real PostgreSQL: its
command and its SQL (from the ConfigMap) make the Airflow role and database with the password
from the Secret, a password with quotes and URL characters included, any number of times, and
the password is never on the command line; then Airflow logs in with the URL and PGPASSWORD its
containers get."""

import base64
import re
import subprocess

import psycopg2
import pytest

from conftest import Ansible, render_objects
from lib.pgserver import PgServer

PASSWORD = "p@ss:w/o'rd\"x;-- $HOME"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    return bootstrap(render_objects(Ansible(tmp_path_factory.mktemp("ansible")), tmp_path_factory.mktemp("render"),
                                    "prod", "--limit", "finance"))


def bootstrap(objects):
    """The bootstrap container's shell command and the SQL files it runs (bootstrap.sql, and
    pgbouncer.sql where PgBouncer is on, as in prod), as rendered: {file name: SQL}."""
    [bootstrap] = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "postgres-bootstrap"]
    [config] = [o for o in objects if o["kind"] == "ConfigMap" and "bootstrap.sql" in (o.get("data") or {})]
    [container] = bootstrap["spec"]["template"]["spec"]["containers"]
    return container, {name: text for name, text in config["data"].items() if name.endswith(".sql")}


def run_job(container, sql, server, tmp_path, password=PASSWORD):
    command = container["command"][-1]
    for name, text in sql.items():
        (tmp_path / name).write_text(text)
        command = command.replace("/bootstrap/" + name, str(tmp_path / name))
    assert "/bootstrap/" not in command, "the Job runs a file this test does not have: %s" % command
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


AIRFLOW_CONNECTS = r"""
import asyncio, os, sys
import sqlalchemy
from sqlalchemy.ext.asyncio import create_async_engine
from airflow.settings import _get_async_conn_uri_from_sync

url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
with sqlalchemy.create_engine(url).connect() as conn:
    print(conn.execute(sqlalchemy.text("SELECT current_user")).scalar())


async def main():
    # Airflow's async engine: the same URL with asyncpg, as Airflow derives it.
    engine = create_async_engine(_get_async_conn_uri_from_sync(url))
    async with engine.connect() as conn:
        print((await conn.execute(sqlalchemy.text("SELECT current_database()"))).scalar())
    await engine.dispose()

asyncio.run(main())
"""


def test_airflow_connects_with_the_rendered_url_and_a_password_with_url_characters(tmp_path_factory, tmp_path):
    """The database URL and PGPASSWORD exactly as the scheduler's container gets them, with the
    Secret's password of URL characters: Airflow's sync (psycopg2) and async (asyncpg) engines
    log in. The URL holds no password, so nothing needs escaping."""
    from lib.airflow_server import ensure_airflow_venv

    with PgServer() as server:
        objects = render_objects(Ansible(tmp_path_factory.mktemp("ansible")), tmp_path_factory.mktemp("render"),
                                 "prod", "--limit", "finance", postgres_airflow_password=PASSWORD,
                                 airflow_database_host="127.0.0.1", airflow_database_port=server.port)
        [scheduler] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "airflow-scheduler"]
        env = {e["name"]: e for e in scheduler["spec"]["template"]["spec"]["containers"][0]["env"]}
        url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]["value"]
        assert PASSWORD not in url and "@127.0.0.1:%d/" % server.port in url
        ref = env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
        [secret] = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == ref["name"]]
        password = base64.b64decode(secret["data"][ref["key"]]).decode()
        assert password == PASSWORD
        container, sql = bootstrap(objects)
        assert run_job(container, sql, server, tmp_path).returncode == 0
        done = subprocess.run([str(ensure_airflow_venv() / "bin" / "python"), "-c", AIRFLOW_CONNECTS],
                              env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path), "PGPASSWORD": password,
                                   "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split() == ["airflow", "airflow"]
