#!/usr/bin/env python3
"""pg_dump_verify time beside a bare pg_restore of the same archive.

Starts a throwaway PostgreSQL (tests/lib/pgserver.py), fills a database with --rows rows over
--tables tables (Airflow-like rows: ids, names, states, a JSON conf and 64 characters of
log), dumps it with its manifest (as the backup does), then prints the medians over
--repeat runs of:
  * the full verification (every check, restore into a scratch database, row counts),
  * the verification without restore (format, toc, manifest, sha256, age, database),
  * the full verification through Ansible (`ansible localhost -m edp.platform.pg_dump_verify`),
  * a bare `createdb` + `pg_restore --no-owner --no-privileges --exit-on-error` + `dropdb`,
and the ratio of the full verification to the bare restore. Nothing is asserted.

Usage: bench/pg_dump_verify.py [--rows 200000] [--tables 4] [--format custom] [--jobs 1] [--repeat 3]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests"))

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[str(REPO / "collections")])._install()

import psycopg2  # noqa: E402
from ansible_collections.edp.platform.plugins.module_utils import pg_archive as pa  # noqa: E402
from ansible_collections.edp.platform.plugins.modules import pg_dump_verify  # noqa: E402
from lib.pgserver import PgServer  # noqa: E402

TABLE_SQL = """
CREATE TABLE {name} (id bigserial PRIMARY KEY, dag_id text NOT NULL, run_id text NOT NULL, state text,
                     started timestamptz DEFAULT now(), conf jsonb, log text);
INSERT INTO {name} (dag_id, run_id, state, conf, log)
SELECT 'dag_' || (i % 200), 'scheduled__' || i, (ARRAY['success', 'failed', 'running'])[i % 3 + 1],
       jsonb_build_object('i', i), md5(i::text) || md5((i + 1)::text)
  FROM generate_series(1, {rows}) i;
CREATE INDEX ON {name} (dag_id, state);
"""


def populate(pg, rows, tables):
    pg.psql("CREATE DATABASE airflow")
    for index in range(tables):
        share = rows // tables + (1 if index < rows % tables else 0)
        pg.psql(TABLE_SQL.format(name="table_%d" % index, rows=share), "airflow")


def dump(pg, fmt, folder):
    path = str(folder / ("airflow." + {"custom": "dump", "directory": "dir", "tar": "tar"}[fmt]))
    conn = psycopg2.connect(pg.dsn("airflow"))
    try:
        with pa.exported_snapshot(conn) as snapshot:
            subprocess.run([str(pg.bindir / "pg_dump"), "--snapshot=%s" % snapshot, "--format=%s" % fmt,
                            "--file=%s" % path, "airflow"], env=pg.env, check=True)
            pa.write_manifest(pa.manifest_from_database(conn, path), pa.manifest_path(path))
    finally:
        conn.close()
    return path


def run_command(argv, environ_update=None):
    proc = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **(environ_update or {})))
    return proc.returncode, proc.stdout, proc.stderr


def params(pg, path, restore, jobs):
    values = {name: spec.get("default") for name, spec in pg_dump_verify.ARGUMENT_SPEC.items()}
    values.update(path=path, restore=restore, jobs=jobs, login_host="127.0.0.1", login_port=pg.port,
                  login_user=pg.superuser, login_password=pg.password)
    return values


def verify(pg, path, restore, jobs):
    result = pg_dump_verify.Verification(params(pg, path, restore, jobs), run_command,
                                         str(pg.bindir / "pg_restore")).run()
    if result["failed"]:
        sys.exit(result["msg"])
    return result


def verify_with_ansible(pg, path, jobs, folder):
    inventory = folder / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    tmp = pathlib.Path(tempfile.mkdtemp(dir=folder))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), TMPDIR=str(tmp),
               ANSIBLE_LOCAL_TEMP=str(tmp / "local"), ANSIBLE_HOME=str(tmp / "home"),
               PGVERIFY_PASSWORD=pg.password)
    args = ("path=%s restore=true jobs=%d login_host=127.0.0.1 login_port=%d login_user=%s "
            "login_password={{ lookup('env', 'PGVERIFY_PASSWORD') }} pg_bindir=%s"
            % (path, jobs, pg.port, pg.superuser, pg.bindir))
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-i", str(inventory), "-o", "-m",
                           "edp.platform.pg_dump_verify", "-a", args],
                          capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        sys.exit(proc.stdout + proc.stderr)


def bare_restore(pg, path, fmt, jobs):
    env = pg.env
    subprocess.run([str(pg.bindir / "createdb"), "-T", "template0", "edp_bench"], env=env, check=True)
    try:
        argv = [str(pg.bindir / "pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                "--format=%s" % fmt, "--dbname=edp_bench", path]
        if jobs > 1 and fmt != "tar":
            argv.insert(-1, "--jobs=%d" % jobs)
        subprocess.run(argv, env=env, check=True)
    finally:
        subprocess.run([str(pg.bindir / "dropdb"), "edp_bench"], env=env, check=True)


def median_seconds(action, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--format", choices=pa.ARCHIVE_FORMATS, default="custom")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    with PgServer() as pg, tempfile.TemporaryDirectory(prefix="edp-bench-") as tmp:
        folder = pathlib.Path(tmp)
        start = time.perf_counter()
        populate(pg, options.rows, options.tables)
        path = dump(pg, options.format, folder)
        print("%d rows over %d tables, %s archive of %.1f MB (made in %.1f s); median of %d runs, jobs=%d"
              % (options.rows, options.tables, options.format, pa.archive_size(path) / 1e6,
                 time.perf_counter() - start, options.repeat, options.jobs))
        figures = [
            ("pg_dump_verify, full (restore + row counts)",
             median_seconds(lambda: verify(pg, path, True, options.jobs), options.repeat)),
            ("pg_dump_verify, without restore",
             median_seconds(lambda: verify(pg, path, False, options.jobs), options.repeat)),
            ("pg_dump_verify, full, through ansible",
             median_seconds(lambda: verify_with_ansible(pg, path, options.jobs, folder), options.repeat)),
            ("bare createdb + pg_restore + dropdb",
             median_seconds(lambda: bare_restore(pg, path, options.format, options.jobs), options.repeat)),
        ]
        for label, seconds in figures:
            print("  %-46s %7.2f s" % (label, seconds))
        bare = figures[-1][1]
        print("  full / bare restore: %.2fx   through ansible / bare restore: %.2fx"
              % (figures[0][1] / bare, figures[2][1] / bare))


if __name__ == "__main__":
    main()
