"""pg_dump_verify against a real PostgreSQL 15: good archives pass, damaged ones fail saying why.

One server for the module. The database ``airflow`` (a few tables, one with a space in its
name, one in another schema, one empty) is dumped in every format, with the manifest written
the way the backup does (``pg_dump --snapshot`` and ``manifest_from_database`` in the same
snapshot). The fault matrix runs as one playbook, a task per case, through Ansible as users
run it; a few cases call the module's logic in-process where they need to reach inside.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

import psycopg2
import pytest
import yaml

from conftest import BIN, REPO, Ansible
from lib.pgserver import PgServer

from ansible_collections.edp.platform.plugins.module_utils import pg_archive as pa
from ansible_collections.edp.platform.plugins.modules import pg_dump_verify

ROWS = {"public.dag": 12, "public.dag_run": 40, "public.task_instance": 3000, "audit.log event": 5,
        "public.empty_table": 0}
EXTENSIONS = {"custom": "dump", "directory": "dir", "tar": "tar", "plain": "sql"}
PASSWORD_VARIABLE = "EDP_TEST_PGPASSWORD"

SCHEMA = """
CREATE TABLE dag (dag_id text PRIMARY KEY, is_paused boolean NOT NULL DEFAULT false, fileloc text);
CREATE TABLE dag_run (id serial PRIMARY KEY, dag_id text NOT NULL REFERENCES dag, run_id text, conf jsonb);
CREATE TABLE task_instance (id bigserial PRIMARY KEY, dag_run_id int REFERENCES dag_run, task_id text,
                            state text, log text);
CREATE INDEX ON task_instance (state);
CREATE SCHEMA audit;
CREATE TABLE audit."log event" (id int, what text);
CREATE TABLE empty_table (x int);
CREATE VIEW paused AS SELECT dag_id FROM dag WHERE is_paused;
INSERT INTO dag SELECT 'dag_' || i, i % 3 = 0, '/dags/dag_' || i || '.py' FROM generate_series(1, 12) i;
INSERT INTO dag_run (dag_id, run_id, conf) SELECT 'dag_' || (i % 12 + 1), 'run_' || i, '{"a": 1}'
  FROM generate_series(1, 40) i;
INSERT INTO task_instance (dag_run_id, task_id, state, log)
  SELECT i % 40 + 1, 'task_' || i, 'success', md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 3000) i;
INSERT INTO audit."log event" SELECT i, 'event ' || i FROM generate_series(1, 5) i;
"""


# -- the server, the archives, the runs -----------------------------------------------------

@pytest.fixture(scope="module")
def pg():
    with PgServer() as server:
        server.psql("CREATE DATABASE airflow")
        server.psql(SCHEMA, "airflow")
        server.psql("CREATE DATABASE sales")
        server.psql("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2), (3)", "sales")
        yield server


def dump(pg, dbname, fmt, path, manifest=True):
    """pg_dump in an exported snapshot, and the manifest counted in the same snapshot."""
    conn = psycopg2.connect(pg.dsn(dbname))
    try:
        with pa.exported_snapshot(conn) as snapshot:
            subprocess.run([str(pg.bindir / "pg_dump"), "--snapshot=%s" % snapshot, "--format=%s" % fmt,
                            "--file=%s" % path, dbname], env=pg.env, check=True, capture_output=True)
            if manifest:
                pa.write_manifest(pa.manifest_from_database(conn, str(path)), pa.manifest_path(str(path)))
    finally:
        conn.close()
    return str(path)


@pytest.fixture(scope="module")
def archives(pg, tmp_path_factory):
    """{format: path} of good archives of airflow, and "sales": a custom archive of sales."""
    folder = tmp_path_factory.mktemp("archives")
    found = {fmt: dump(pg, "airflow", fmt, folder / ("airflow." + ext), manifest=fmt != "plain")
             for fmt, ext in EXTENSIONS.items()}
    found["sales"] = dump(pg, "sales", "custom", folder / "sales.dump")
    return found


def scratch_databases(pg):
    return pg.psql("SELECT datname FROM pg_database WHERE datname LIKE 'edp\\_verify\\_%'").split()


def connection(pg):
    return {"login_host": "127.0.0.1", "login_port": pg.port, "login_user": pg.superuser,
            "login_password": "{{ lookup('env', '%s') }}" % PASSWORD_VARIABLE}


def inventory(folder):
    """localhost with this Python (it has psycopg2), not the interpreter Ansible would discover."""
    path = folder / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    return path


def run_playbook(pg, folder, tasks, *args, json_output=True):
    playbook = folder / "verify.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Verify archives", "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}], sort_keys=False))
    ansible = Ansible(folder)
    return ansible.playbook(str(playbook), str(inventory(folder)), *args, vault=False, json_output=json_output,
                            env={PASSWORD_VARIABLE: pg.password})


# -- damage ---------------------------------------------------------------------------------

def copy(src, dst):
    if os.path.isdir(src):
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)
    manifest = pa.manifest_path(src)
    if os.path.exists(manifest):
        shutil.copyfile(manifest, pa.manifest_path(str(dst)))
    return str(dst)


def truncate(path, keep=0.5):
    with open(path, "r+b") as handle:
        handle.truncate(int(os.path.getsize(path) * keep))


def flip_bytes(path, at=0.6, count=64):
    with open(path, "r+b") as handle:
        handle.seek(int(os.path.getsize(path) * at))
        data = handle.read(count)
        handle.seek(-len(data), os.SEEK_CUR)
        handle.write(bytes(b ^ 0xFF for b in data))


def edit_manifest(path, **changes):
    manifest_file = pa.manifest_path(path)
    with open(manifest_file) as handle:
        manifest = json.load(handle)
    for key, value in changes.items():
        if key == "tables":
            manifest["tables"].update(value)
        else:
            manifest[key] = value
    pa.write_manifest(manifest, manifest_file)


def rewrite_manifest(path):
    """The manifest of the damaged file, as if the damage had happened before the backup wrote it."""
    with open(pa.manifest_path(path)) as handle:
        old = json.load(handle)
    pa.write_manifest(pa.build_manifest(path, old["database"], old["tables"], old["server_version"],
                                        old["created"]), pa.manifest_path(path))


@dataclass
class Case:
    """One task of the matrix: how to damage a copy of an archive, the options, what must be said."""

    id: str
    source: str = "custom"
    damage: Callable[[str], object] | None = None
    args: dict = field(default_factory=dict)
    fails_with: tuple = ()
    check_mode: bool = False


def _damage_directory(path):
    data = sorted(name for name in os.listdir(path) if name != "toc.dat")
    os.unlink(os.path.join(path, data[-1]))


def _corrupt_then_manifest(path):
    flip_bytes(path)
    rewrite_manifest(path)


def _truncate_then_manifest(path):
    truncate(path, keep=0.8)
    rewrite_manifest(path)


RESTORE = {"restore": True, "database": "airflow", "max_age": "1h"}

GOOD = [
    Case("good-custom", "custom", args=dict(RESTORE, format="custom", jobs=2)),
    Case("good-directory", "directory", args=dict(RESTORE, format="directory", jobs=2)),
    Case("good-tar", "tar", args=dict(RESTORE, format="tar", jobs=2)),
    Case("good-custom-without-restore", "custom", args={"max_age": 3600}),
    Case("check-mode", "custom", args=RESTORE, check_mode=True),
]

FAULTS = [
    Case("truncated-custom", "custom", lambda p: truncate(p), RESTORE, ("sha256 check failed", "truncated")),
    Case("truncated-tar", "tar", lambda p: truncate(p), RESTORE, ("truncated",)),
    Case("truncated-before-the-manifest", "custom", _truncate_then_manifest, RESTORE,
         ("restore check failed", "pg_restore failed", "could not read from input file")),
    Case("bytes-changed-in-the-middle", "custom", lambda p: flip_bytes(p), RESTORE,
         ("sha256 check failed", "differs from the manifest")),
    Case("bytes-changed-before-the-manifest", "custom", _corrupt_then_manifest, RESTORE,
         ("restore check failed", "pg_restore failed")),
    Case("directory-data-file-missing", "directory", _damage_directory, RESTORE,
         ("sha256 check failed", "truncated")),
    Case("empty-file", "custom", lambda p: truncate(p, keep=0), RESTORE, ("format check failed", "empty")),
    Case("not-an-archive", "custom", lambda p: open(p, "wb").write(b"hello, not a dump\n" * 40), RESTORE,
         ("format check failed", "not a pg_dump archive")),
    Case("checksum-mismatch", "custom", lambda p: edit_manifest(p, sha256="0" * 64), RESTORE,
         ("sha256 check failed", "differs from the manifest")),
    Case("row-count-mismatch", "custom", lambda p: edit_manifest(p, tables={"public.dag_run": 41}), RESTORE,
         ("restore check failed", "row count of public.dag_run is 40 in the restore, 41 in the manifest")),
    Case("table-missing-from-the-archive", "custom", lambda p: edit_manifest(p, tables={"public.xcom": 7}),
         RESTORE, ("tables check failed", "no data for public.xcom")),
    Case("plain-sql-where-custom-expected", "plain", None, {"format": "custom"},
         ("format check failed", "plain SQL where a custom-format archive was expected")),
    Case("plain-sql-where-any-archive-expected", "plain", None, {},
         ("format check failed", "plain SQL, which pg_restore cannot read")),
    Case("directory-where-custom-expected", "directory", None, {"format": "custom"},
         ("a directory-format archive where a custom-format archive was expected",)),
    Case("too-old", "custom", lambda p: edit_manifest(p, created="2020-01-01T00:00:00Z"), RESTORE,
         ("age check failed", "older than max_age 1h", "2020-01-01T00:00:00Z")),
    Case("missing-archive", "custom", os.unlink, RESTORE, ("format check failed", "does not exist")),
    Case("missing-manifest", "custom", lambda p: os.unlink(pa.manifest_path(p)), RESTORE,
         ("manifest check failed", "no manifest at")),
    Case("manifest-not-json", "custom", lambda p: open(pa.manifest_path(p), "w").write("{not json"), RESTORE,
         ("manifest check failed", "not readable JSON")),
    Case("manifest-of-another-format", "custom", lambda p: edit_manifest(p, format="tar"), RESTORE,
         ("manifest check failed", "records a tar archive, this is a custom archive")),
    Case("another-database", "sales", None, RESTORE,
         ("database check failed", "an archive of another database: sales, where airflow was expected")),
    Case("wrong-password", "custom", None, dict(RESTORE, login_password="not-the-password"),
         ("restore check failed", "password authentication failed")),
]

CASES = {case.id: case for case in GOOD + FAULTS}


def task(case, path, pg):
    args = dict(connection(pg), path=path, pg_bindir=str(pg.bindir))
    args.update(case.args)
    entry = {"name": case.id, "edp.platform.pg_dump_verify": args, "ignore_errors": True}
    if case.check_mode:
        entry["check_mode"] = True
    return entry


@pytest.fixture(scope="module")
def matrix(pg, archives, tmp_path_factory):
    """Every case as one task of one playbook: {case id: result}, and the run itself."""
    folder = tmp_path_factory.mktemp("matrix")
    tasks = []
    for case in CASES.values():
        path = copy(archives[case.source], folder / ("%s.%s" % (case.id, EXTENSIONS.get(case.source, "dump"))))
        if case.damage:
            case.damage(path)
        tasks.append(task(case, path, pg))
    run = run_playbook(pg, folder, tasks)
    assert run.results, "the playbook did not run: %s" % run.output[-3000:]
    return {case_id: run.task_results(case_id)["localhost"] for case_id in CASES}, run


# -- good archives --------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", ["good-custom", "good-directory", "good-tar"])
def test_a_good_archive_restores_with_the_row_counts_of_the_manifest(matrix, case_id):
    result = matrix[0][case_id]
    assert not result.get("failed"), result["msg"]
    assert result["restored"] is True and result["changed"] is False
    assert result["row_counts"] == ROWS
    assert result["rows"] == sum(ROWS.values()) and result["tables"] == len(ROWS)
    assert [c["name"] for c in result["checks"]] == [
        "format", "toc", "manifest", "tables", "sha256", "age", "database", "restore"]
    assert all(c["passed"] for c in result["checks"])
    assert result["skipped_checks"] == []
    assert result["database"] == "airflow" and 0 <= result["age_seconds"] < 3600
    with open(pa.manifest_path(result["archive"])) as handle:
        manifest = json.load(handle)
    assert (result["size"], result["sha256"]) == (manifest["size"], manifest["sha256"])
    assert "uid" not in result and "state" not in result, "Ansible took the result for a file's"
    assert result["duration_seconds"] > 0
    assert result["scratch_database"].startswith("edp_verify_")
    assert "verified" in result["msg"] and "restored with matching row counts" in result["msg"]


def test_without_restore_the_read_only_checks_run_and_rows_come_from_the_manifest(matrix):
    result = matrix[0]["good-custom-without-restore"]
    assert not result.get("failed"), result["msg"]
    assert result["restored"] is False and "row_counts" not in result
    assert result["rows"] == sum(ROWS.values())
    assert [c["name"] for c in result["checks"]][-1] == "database"


def test_check_mode_skips_the_restore_and_says_so(matrix):
    result = matrix[0]["check-mode"]
    assert not result.get("failed"), result["msg"]
    assert result["restored"] is False and result["changed"] is False
    assert {"name": "restore", "reason": "check mode: nothing is restored"} in result["skipped_checks"]
    assert "restore" not in [c["name"] for c in result["checks"]]
    assert "restore skipped (check mode" in result["msg"]


# -- the fault matrix -----------------------------------------------------------------------

@pytest.mark.parametrize("case_id", [case.id for case in FAULTS])
def test_a_damaged_archive_fails_saying_what_is_wrong(matrix, case_id):
    result = matrix[0][case_id]
    assert result.get("failed"), "%s passed: %s" % (case_id, result.get("msg"))
    msg = result["msg"]
    assert msg.startswith("pg_dump archive ") and "%s." % case_id in msg, msg
    for phrase in CASES[case_id].fails_with:
        assert phrase in msg, "%r not in %r" % (phrase, msg)
    assert "\n" not in msg and "Traceback" not in msg
    assert result["changed"] is False


def test_a_damaged_archive_is_not_restored(matrix):
    for case in FAULTS:
        result = matrix[0][case.id]
        if "restore check failed" not in result["msg"]:
            assert result["restored"] is False and "scratch_database" not in result, case.id


def test_plain_sql_is_detected_and_reported_as_such(matrix):
    assert matrix[0]["plain-sql-where-custom-expected"]["format"] == "plain"


def test_no_scratch_database_is_left_after_any_case(pg, matrix):
    attempted = [r["scratch_database"] for r in matrix[0].values() if "scratch_database" in r]
    assert len(attempted) >= 6, "the restores of the matrix did not run"
    assert scratch_databases(pg) == []


def test_the_matrix_output_holds_no_password(pg, matrix):
    assert pg.password not in matrix[1].output


# -- through Ansible, other ways ------------------------------------------------------------

def test_ad_hoc_command_verifies_an_archive(pg, archives, tmp_path):
    ansible = Ansible(tmp_path)
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", str(inventory(tmp_path)), "-o", "-m",
         "edp.platform.pg_dump_verify", "-a", "path=%s format=tar database=airflow max_age=1d" % archives["tar"]],
        capture_output=True, text=True, env=ansible.env(json_output=False))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.split("=>", 1)[1])
    assert result["format"] == "tar" and result["tables"] == len(ROWS) and result["restored"] is False


def test_a_vvv_restore_prints_no_password(pg, archives, tmp_path):
    case = Case("vvv", "directory", args=dict(RESTORE, jobs=2))
    run = run_playbook(pg, tmp_path, [task(case, archives["directory"], pg)], "-vvv", json_output=False)
    assert run.rc == 0, run.output[-3000:]
    assert "restored with matching row counts" in run.output
    assert pg.password not in run.output
    assert scratch_databases(pg) == []


# -- in-process: reaching inside ------------------------------------------------------------

def subprocess_runner(calls):
    """A stand-in for AnsibleModule.run_command that records what it ran."""
    def run(argv, environ_update=None):
        calls.append((list(argv), dict(environ_update or {})))
        proc = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **(environ_update or {})))
        return proc.returncode, proc.stdout, proc.stderr
    return run


def verification(pg, path, calls, check_mode=False, **options):
    params = {name: spec.get("default") for name, spec in pg_dump_verify.ARGUMENT_SPEC.items()}
    params.update(login_host="127.0.0.1", login_port=pg.port, login_user=pg.superuser, login_password=pg.password,
                  path=path, restore=True, **options)
    return pg_dump_verify.Verification(params, subprocess_runner(calls), str(pg.bindir / "pg_restore"), check_mode)


def test_pg_restore_gets_the_password_in_its_environment_never_its_command_line(pg, archives):
    calls = []
    result = verification(pg, archives["custom"], calls).run()
    assert not result["failed"], result["msg"]
    restore_argv, restore_env = calls[-1]
    assert "--exit-on-error" in restore_argv and "--no-owner" in restore_argv
    assert not any(pg.password in arg for argv, _ in calls for arg in argv)
    assert restore_env["PGPASSWORD"] == pg.password


def test_a_restore_through_the_unix_socket(pg, archives):
    result = verification(pg, archives["tar"], [], login_unix_socket=str(pg.socketdir)).run()
    assert not result["failed"], result["msg"]
    assert result["restored"] and result["row_counts"] == ROWS


def test_the_scratch_database_is_dropped_when_the_restore_breaks(pg, archives, monkeypatch):
    def broken(params, dbname):
        assert dbname in scratch_databases(pg), "the scratch database should exist during the restore"
        raise OSError("counting broke")
    monkeypatch.setattr(pa, "database_row_counts", broken)
    result = verification(pg, archives["custom"], []).run()
    assert result["failed"] and "restore check failed: counting broke" in result["msg"]
    assert scratch_databases(pg) == []


def test_the_manifest_counts_the_rows_of_the_dump_while_the_database_is_written_to(pg, tmp_path):
    """Rows added after the snapshot is exported are in neither the dump nor the manifest."""
    path = str(tmp_path / "busy.dump")
    conn = psycopg2.connect(pg.dsn("airflow"))
    try:
        with pa.exported_snapshot(conn) as snapshot:
            pg.psql("INSERT INTO dag (dag_id) VALUES ('late_dag')", "airflow")
            subprocess.run([str(pg.bindir / "pg_dump"), "--snapshot=%s" % snapshot, "-Fc", "-f", path, "airflow"],
                           env=pg.env, check=True)
            manifest = pa.manifest_from_database(conn, path)
    finally:
        conn.close()
        pg.psql("DELETE FROM dag WHERE dag_id = 'late_dag'", "airflow")
    assert manifest["tables"] == ROWS and manifest["database"] == "airflow" and manifest["format"] == "custom"
    assert manifest["server_version"].startswith("15.")
    pa.write_manifest(manifest, pa.manifest_path(path))
    result = verification(pg, path, []).run()
    assert not result["failed"], result["msg"]


# -- the backup script counts with the same query -------------------------------------------

def backup_script(pg, folder, with_query=True):
    """edp-backup.sh installed as the dr role installs it (the query beside it), and its environment."""
    scripts = folder / "scripts"
    scripts.mkdir()
    shutil.copy(REPO / "roles" / "dr" / "files" / "edp-backup.sh", scripts)
    if with_query:
        name = yaml.safe_load((REPO / "roles" / "dr" / "vars" / "main.yml").read_text())["dr_row_counts_file"]
        (scripts / name).write_text(pa.ROW_COUNTS_SQL)
    env = dict(pg.env, BACKUP_ROOT=str(folder / "backup"), PGDATABASE="airflow", DB_OWNER=pg.superuser,
               PG_BINDIR=str(pg.bindir))
    return lambda *args: subprocess.run(["bash", str(scripts / "edp-backup.sh"), *args], env=env,
                                        capture_output=True, text=True, timeout=300)


def test_the_backup_script_and_pg_dump_verify_count_the_same_rows(pg, tmp_path):
    """The manifest edp-backup.sh writes counts with pg_dump_verify's query: on the same database
    both give the same rows, the script's drill finds its own dump intact, and pg_dump_verify
    proves the script's dump with them."""
    script = backup_script(pg, tmp_path)
    proc = script("dump")
    assert proc.returncode == 0, proc.stderr
    [manifest_file] = (tmp_path / "backup" / "dumps").glob("*.manifest.json")
    conn = psycopg2.connect(pg.dsn("airflow"))
    try:
        with conn.cursor() as cursor:
            counted = pa.table_row_counts(cursor)
    finally:
        conn.close()
    assert json.loads(manifest_file.read_text())["tables"] == counted == ROWS
    proc = script("drill")
    assert proc.returncode == 0, proc.stderr
    result = verification(pg, str(manifest_file)[:-len(pa.manifest_path(""))], []).run()
    assert not result["failed"], result["msg"]
    assert result["row_counts"] == ROWS


def test_the_backup_script_refuses_to_count_without_the_shared_query(pg, tmp_path):
    proc = backup_script(pg, tmp_path, with_query=False)("dump")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.split(" ", 1)[1] == (
        "edp-backup: error: %s is missing: the dr role installs it beside edp-backup.sh (run site.yml)"
        % (tmp_path / "scripts" / "edp-row-counts.sql"))
    assert not (tmp_path / "backup").exists()
