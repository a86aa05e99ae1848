"""The dr role on the local target, against the real PostgreSQL and Airflow that
site.yml -i inventories/local brings up: backup.yml, restore.yml (a dump, and a point in
time between two transactions), dr_drill.yml, retention, and refusals that change nothing."""

import json
import os
import re
import stat
import subprocess
import time
from datetime import datetime, timezone

import pytest

from ansible_collections.edp.platform.plugins.module_utils import pg_archive
from conftest import failure_messages

SCRIPT = "edp-backup.sh"


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def backups(platform):
    return platform.home / "backups"


def playbook(platform, name, *args, **extra_vars):
    return platform.run(*args, playbook="playbooks/%s.yml" % name, extra_vars=extra_vars)


def debug_msg(run, task):
    return run.task_results(task)["demo"]["msg"]


def script_env(platform, **overrides):
    """The environment the crontab gives edp-backup.sh (the role's env file), with overrides."""
    env = dict(os.environ)
    for line in (platform.home / "config" / "dr" / "backup.env").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = subprocess.run(["sh", "-c", "printf %s " + value], capture_output=True, text=True).stdout
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def run_script(platform, *args, **overrides):
    return subprocess.run(["bash", str(platform.home / "config" / "dr" / SCRIPT), *args], capture_output=True,
                          text=True, env=script_env(platform, **overrides), timeout=300)


def script(platform, *args, **overrides):
    proc = run_script(platform, *args, **overrides)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


def script_fails(platform, *args, **overrides):
    proc = run_script(platform, *args, **overrides)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


@pytest.fixture
def newest(platform):
    """The newest dump (one is taken when there is none, so each test stands on its own)."""
    if not list((backups(platform) / "dumps").glob("airflow-*.dump.manifest.json")):
        script(platform, "dump")
    return script(platform, "newest")["archive"]


def airflow_counts(platform, dbname="airflow"):
    with platform.connect("postgres", dbname=dbname) as conn, conn.cursor() as cur:
        return pg_archive.table_row_counts(cur)


def databases(platform):
    return {row[0] for row in platform.sql("SELECT datname FROM pg_database")}


def supervisorctl(platform, *args):
    conf = platform.home / "config" / "airflow" / "supervisord.conf"
    return subprocess.run(["supervisorctl", "-c", str(conf), *args], capture_output=True, text=True).stdout


def supervisord_pid(platform):
    """Each component's state and pid: equal before and after only if none was stopped."""
    return re.findall(r"^(\S+)\s+(\S+)\s+pid (\d+)", supervisorctl(platform, "status"), re.M)


AIRFLOW_PROGRAMS = {"airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


def all_running(platform):
    """True when every program of the tenant's supervisord runs, the four Airflow components among them."""
    states = dict(re.findall(r"^(\S+)\s+([A-Z]+)\b", supervisorctl(platform, "status"), re.M))
    return AIRFLOW_PROGRAMS <= states.keys() and set(states.values()) == {"RUNNING"}


def wait_until_healthy(platform, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, health = platform.api("GET", "/api/v2/monitor/health")
            if {part["status"] for part in health.values()} == {"healthy"}:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "Airflow did not become healthy"
        time.sleep(2)


def drop_database(platform, name):
    conn = platform.connect("postgres", dbname="postgres")
    try:
        conn.autocommit = True
        conn.cursor().execute('DROP DATABASE "%s"' % name)
    finally:
        conn.close()


def utc_now(platform):
    return platform.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0][0]


def test_site_installs_the_script_its_secrets_and_the_schedule(platform):
    config = platform.home / "config"
    assert stat.S_IMODE((config / "dr" / "backup.env").stat().st_mode) == 0o600
    assert stat.S_IMODE((config / "secrets" / "pgpass").stat().st_mode) == 0o600
    assert platform.password("superuser") not in (config / "dr" / "backup.env").read_text()
    for folder in ("dumps", "base"):
        assert stat.S_IMODE((backups(platform) / folder).stat().st_mode) == 0o700
    crontab = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    mine = [line for line in crontab.splitlines() if str(platform.root) in line and not line.startswith("#")]
    assert len(mine) == 2, crontab
    assert any(line.startswith("15 1 * * * ") and line.endswith("dump >> %s/logs/dr/dump.log 2>&1" % platform.home)
               for line in mine), mine
    assert any(line.startswith("45 1 * * 0 ") and " basebackup " in line for line in mine), mine


def test_a_drill_without_any_dump_fails_in_one_line_that_says_what_to_do(platform):
    dumps = backups(platform) / "dumps"
    aside = dumps.with_name("dumps.aside")
    dumps.rename(aside)
    dumps.mkdir(mode=0o700)
    try:
        run = playbook(platform, "dr_drill")
    finally:
        dumps.rmdir()
        aside.rename(dumps)
    assert run.rc != 0
    [failed] = [r for r in run.task_results("Find the newest dump").values()]
    assert failed["msg"] == ("edp-backup.sh newest failed: no dump of airflow with a manifest in %s: "
                             "take one with playbooks/backup.yml" % dumps)
    # Only the message and the exit status: not the command's whole result.
    assert not {"cmd", "stdout", "stderr", "stderr_lines", "stdout_lines"} & set(failed), sorted(failed)


def test_backup_takes_a_dump_and_proves_it_by_a_restore(platform):
    platform.sql("CREATE TABLE IF NOT EXISTS dr_rows AS SELECT g AS id FROM generate_series(1, 5000) g",
                 dbname="airflow")
    before = airflow_counts(platform)
    run = playbook(platform, "backup", backup_base=True)
    assert run.rc == 0, failure_messages(run)
    verified = run.task_results("Verify the dump by restoring it into a scratch database")["demo"]
    assert verified["restored"] is True and verified["database"] == "airflow"
    after = airflow_counts(platform)
    # Counted in the dump's snapshot, as the database has them. Airflow runs meanwhile (a DAG
    # parsed, permissions synced just after the bring-up), so a table it wrote during the backup
    # may differ; every table that held still must match exactly.
    assert sorted(verified["row_counts"]) == sorted(after)
    still = {name: rows for name, rows in after.items() if before.get(name) == rows}
    assert "public.dr_rows" in still and len(still) > len(after) // 2, (before, after)
    assert {name: verified["row_counts"][name] for name in still} == still
    assert verified["rows"] == sum(verified["row_counts"].values()) >= 5000
    manifest = pg_archive.read_manifest(verified["archive"] + ".manifest.json")
    assert manifest["sha256"] == pg_archive.archive_digest(verified["archive"])
    assert stat.S_IMODE(os.stat(verified["archive"]).st_mode) == 0o600
    assert [p.name for p in (backups(platform) / "base").iterdir() if p.is_dir()], "no base backup taken"
    assert not [d for d in databases(platform) if d.startswith("edp_verify")], "a scratch database was left"


def test_restore_brings_back_every_row_and_keeps_the_replaced_database(platform):
    # Airflow stopped, so that nothing but the test writes (its scheduler and triggerer add
    # rows all the time); restore.yml then leaves it stopped, as it found it.
    supervisorctl(platform, "stop", "all")
    try:
        platform.sql("CREATE TABLE IF NOT EXISTS dr_restore AS SELECT g AS id, md5(g::text) AS v "
                     "FROM generate_series(1, 20000) g; "
                     "CREATE TABLE IF NOT EXISTS dr_rows AS SELECT g AS id FROM generate_series(1, 5000) g",
                     dbname="airflow")
        run = playbook(platform, "backup")
        assert run.rc == 0, failure_messages(run)
        at_backup = airflow_counts(platform)
        # After the backup: rows deleted, added, a table dropped and one created.
        platform.sql("DELETE FROM dr_restore WHERE id % 3 = 0; INSERT INTO dr_rows SELECT generate_series(1, 10); "
                     "DROP TABLE dr_rows; CREATE TABLE dr_after (x int)", dbname="airflow")
        changed = airflow_counts(platform)
        run = playbook(platform, "restore")
        assert run.rc == 0, failure_messages(run)
        report = debug_msg(run, "Report the restore")
        assert airflow_counts(platform) == at_backup, "the restore did not bring back every row"
        assert airflow_counts(platform, report["previous"]) == changed, "the replaced database was not kept as it was"
        assert report["rows"] == sum(at_backup.values()) and report["tables"] == len(at_backup)
        owner = platform.sql("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
                             "ON n.oid = c.relnamespace WHERE n.nspname = 'public'", dbname="airflow")
        assert owner == [("airflow",)], "restored objects must belong to the Airflow role"
        assert "RUNNING" not in supervisorctl(platform, "status"), "restore.yml started what was stopped"
        drop_database(platform, report["previous"])
    finally:
        supervisorctl(platform, "start", "all")
        wait_until_healthy(platform)


def test_point_in_time_restore_has_the_first_transaction_and_not_the_second(platform):
    run = playbook(platform, "backup", backup_base=True)
    assert run.rc == 0, failure_messages(run)
    platform.sql("CREATE TABLE pitr_probe (what text, at timestamptz DEFAULT clock_timestamp())", dbname="airflow")
    platform.sql("INSERT INTO pitr_probe (what) VALUES ('first')", dbname="airflow")
    time.sleep(1.1)
    between = utc_now(platform)
    time.sleep(1.1)
    platform.sql("INSERT INTO pitr_probe (what) VALUES ('second')", dbname="airflow")
    run = playbook(platform, "restore", restore_target_time=between)
    assert run.rc == 0, failure_messages(run)
    assert platform.sql("SELECT what FROM pitr_probe ORDER BY at", dbname="airflow") == [("first",)]
    stopped = run.task_results("Stop Airflow")["demo"]
    assert stopped["changed"] and "airflow-scheduler" in stopped["cmd"], "Airflow was not stopped first"
    # The Airflow components, and what the spark and monitoring roles run under the same supervisord.
    assert all_running(platform), "Airflow was not started again: " + supervisorctl(platform, "status")
    report = debug_msg(run, "Report the restore")
    assert report["recovered"] is True and report["timeline"] >= 2
    assert os.path.isdir(report["previous_data"]), "the data folder replaced was not kept"
    assert platform.sql("SELECT pg_is_in_recovery()") == [(False,)]
    # Gone from the files and from the running server, which waits for no restart.
    left = platform.sql("SELECT name FROM pg_file_settings WHERE name IN "
                        "('restore_command', 'recovery_target_time', 'recovery_target_action')")
    assert left == [], "recovery settings left behind"
    assert platform.sql("SELECT name FROM pg_settings WHERE pending_restart") == []
    assert platform.sql("SHOW recovery_target_time") == [("",)]
    platform.sql("INSERT INTO pitr_probe (what) VALUES ('after')", dbname="airflow")  # writable again
    status, health = platform.api("GET", "/api/v2/monitor/health")
    assert {part["status"] for part in health.values()} == {"healthy"}
    subprocess.run(["rm", "-rf", report["previous_data"]], check=True)


@pytest.mark.parametrize("target, message", [
    ("yesterday", "is not an ISO 8601 time with a zone"),
    ("2026-11-28T17:00:00", "is not an ISO 8601 time with a zone"),
    ("2999-01-01T00:00:00Z", "is in the future"),
    ("2001-01-01T00:00:00Z", "no base backup"),
])
def test_a_bad_point_in_time_is_refused_before_anything_stops(platform, target, message):
    platform.sql("CREATE TABLE IF NOT EXISTS refusal_probe (x int)", dbname="airflow")
    started = platform.sql("SELECT pg_postmaster_start_time()")
    before = supervisord_pid(platform)
    assert all_running(platform), before
    run = playbook(platform, "restore", restore_target_time=target)
    assert run.rc != 0
    assert message in failure_messages(run)
    assert platform.sql("SELECT pg_postmaster_start_time()") == started, "the server was stopped"
    assert supervisord_pid(platform) == before, "Airflow was stopped or restarted"


def test_a_damaged_dump_is_refused_before_anything_stops(platform, newest):
    damaged = backups(platform) / "dumps" / "airflow-20000101T000000Z.dump"
    data = bytearray(open(newest, "rb").read())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    damaged.write_bytes(bytes(data))
    damaged.with_name(damaged.name + ".manifest.json").write_text(open(newest + ".manifest.json").read())
    try:
        before, names = supervisord_pid(platform), databases(platform)
        run = playbook(platform, "restore", restore_archive=damaged.name)
        assert run.rc != 0 and "sha256" in failure_messages(run)
        assert databases(platform) == names and supervisord_pid(platform) == before
        run = playbook(platform, "restore", restore_archive="airflow-19990101T000000Z.dump")
        assert run.rc != 0 and "does not exist" in failure_messages(run)
    finally:
        damaged.unlink()
        damaged.with_name(damaged.name + ".manifest.json").unlink()


def test_drill_reports_rpo_and_rto_and_leaves_nothing_behind(platform, newest):
    names = databases(platform)
    run = playbook(platform, "dr_drill")
    assert run.rc == 0, failure_messages(run)
    assert run.changed() == 0
    report = debug_msg(run, "Report the measured RPO and RTO")
    assert report["archive"] == newest
    created = pg_archive.parse_time(pg_archive.read_manifest(newest + ".manifest.json")["created"])
    assert abs(float(report["rpo_dump_seconds"]) - (datetime.now(timezone.utc) - created).total_seconds()) < 60
    assert 0 <= float(report["rpo_wal_seconds"]) < 3600 and 0 < float(report["rto_seconds"]) < 600
    assert int(report["rows"]) > 0 and databases(platform) == names


def test_drill_fails_when_the_newest_dump_is_too_old(platform, newest):
    time.sleep(1.1)
    run = playbook(platform, "dr_drill", dr_max_age="1s")
    assert run.rc != 0 and "older than max_age 1s" in failure_messages(run)


def test_dump_retention_keeps_the_newest_by_count_and_age(platform, newest):
    dumps = backups(platform) / "dumps"
    # Two dumps of long ago, as a schedule would have left them.
    for stamp in ("20200101T000000Z", "20200102T000000Z"):
        old = dumps / ("airflow-%s.dump" % stamp)
        old.write_bytes(open(newest, "rb").read())
        old.with_name(old.name + ".manifest.json").write_text(open(newest + ".manifest.json").read())
    result = script(platform, "dump", DUMP_KEEP_COUNT=2, DUMP_KEEP_AGE="30d")
    kept = sorted(p.name for p in dumps.glob("airflow-*.dump"))
    assert len(kept) == 2 and kept[-1] == os.path.basename(result["archive"])
    assert "airflow-20200101T000000Z.dump" in result["deleted"] and "airflow-20200102T000000Z.dump" in result["deleted"]
    assert sorted(p.name for p in dumps.glob("*.manifest.json")) == [k + ".manifest.json" for k in kept]
    # By age: everything older than a second goes, except the newest (stamps count whole seconds).
    time.sleep(2.1)
    result = script(platform, "dump", DUMP_KEEP_COUNT=100, DUMP_KEEP_AGE="1s")
    assert sorted(p.name for p in dumps.glob("airflow-*.dump")) == [os.path.basename(result["archive"])]


def test_base_backup_retention_removes_wal_only_older_than_the_oldest_kept(platform):
    first = script(platform, "basebackup", BASE_KEEP_COUNT=1)
    second = script(platform, "basebackup", BASE_KEEP_COUNT=1)
    base = backups(platform) / "base"
    assert sorted(p.name for p in base.iterdir() if p.is_dir()) == [os.path.basename(second["base_backup"])]
    assert os.path.basename(first["base_backup"]) in second["deleted"]
    wal = sorted(p.name for p in (backups(platform) / "wal").iterdir() if len(p.name) == 24)
    assert wal and wal[0][8:] >= second["first_wal"][8:], "WAL the kept base backup needs was removed"
    assert wal[0][8:] == second["first_wal"][8:], "WAL older than the oldest kept base backup was kept"


def test_a_bad_retention_setting_fails_naming_it(platform):
    assert "DUMP_KEEP_AGE 'two weeks' is not seconds or a duration" in script_fails(
        platform, "dump", DUMP_KEEP_AGE="two weeks")


def test_disabling_the_schedule_removes_the_crontab_entries(platform):
    run = platform.run(extra_vars={"dr_local_cron": False})
    assert run.rc == 0, failure_messages(run)
    crontab = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    assert str(platform.root) not in crontab
    run = platform.run()
    assert run.rc == 0 and run.changed() > 0
    run = platform.run()
    assert run.rc == 0 and run.changed() == 0, "a second run changed something"


def test_the_kubernetes_drill_restores_compares_and_drops_its_scratch_database(platform, newest):
    # What the drill Job runs in the cluster (edp-backup.sh drill), run here on the real server.
    names = databases(platform)
    report = script(platform, "drill", "newest")
    manifest = pg_archive.read_manifest(report["archive"] + ".manifest.json")
    assert report["tables"] == len(manifest["tables"]) and report["rows"] == sum(manifest["tables"].values())
    assert report["created"] == manifest["created"] and report["rpo_seconds"] >= 0 and report["rto_seconds"] >= 0
    assert databases(platform) == names, "the scratch database was left behind"


def test_the_kubernetes_drill_fails_on_a_row_count_the_manifest_does_not_have(platform, newest):
    dumps = backups(platform) / "dumps"
    wrong = dumps / "airflow-20000101T000000Z.dump"
    wrong.write_bytes(open(newest, "rb").read())
    manifest = json.loads(open(newest + ".manifest.json").read())
    table = sorted(manifest["tables"])[0]
    manifest["tables"][table] += 1
    wrong.with_name(wrong.name + ".manifest.json").write_text(json.dumps(manifest))
    names = databases(platform)
    try:
        stderr = script_fails(platform, "drill", wrong.name)
        assert "differs from its manifest: %s has %d rows in the restore, %d in the manifest" % (
            table, manifest["tables"][table] - 1, manifest["tables"][table]) in stderr
        assert databases(platform) == names, "the scratch database was left behind"
        assert "is older than max_age 1s" in script_fails(platform, "drill", "newest", MAX_AGE="1s")
    finally:
        wrong.unlink()
        wrong.with_name(wrong.name + ".manifest.json").unlink()
