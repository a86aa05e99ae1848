#!/usr/bin/env python3
"""What the dr role's edp-backup.sh costs beside the bare PostgreSQL tools it wraps.

Starts a throwaway PostgreSQL archiving its WAL (tests/lib/pgserver.py), fills a database
with --rows rows over --tables tables (as bench/pg_dump_verify.py does), then prints the
medians over --repeat runs of:
  * `edp-backup.sh dump` (exported snapshot, pg_dump, row counts in the snapshot, SHA-256,
    manifest, retention) beside a bare `pg_dump --format=custom`;
  * `edp-backup.sh drill` (checksum, restore into a scratch database, every table's rows
    compared with the manifest, drop) and `edp-backup.sh restore` (the same into a new
    database, then swapped in) beside a bare createdb + pg_restore + dropdb;
  * `edp-backup.sh basebackup` (pg_basebackup, pg_verifybackup against the WAL archive,
    retention, WAL clean-up) beside a bare `pg_basebackup`.
Nothing is asserted.

Usage: bench/backup.py [--rows 200000] [--tables 4] [--repeat 3]
"""

import argparse
import json
import os
import pathlib
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from pg_dump_verify import REPO, bare_restore, median_seconds, populate  # noqa: E402
from lib.pgserver import PgServer  # noqa: E402

SCRIPT = REPO / "roles" / "dr" / "files" / "edp-backup.sh"


def run_script(pg, root, *args, **extra):
    env = dict(pg.env, BACKUP_ROOT=str(root), PGDATABASE="airflow", DB_OWNER="postgres",
               PG_BINDIR=str(pg.bindir), DUMP_KEEP_COUNT="100", BASE_KEEP_COUNT="100", **extra)
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    return json.loads(proc.stdout.splitlines()[-1])


def next_second():
    """Backups are named by the second: the script waits rather than reuse a name, so a run
    right after another would time that wait. Start each timed run in a fresh second."""
    time.sleep(1 - time.time() % 1 + 0.01)


def timed_in_a_fresh_second(action):
    next_second()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def restore_and_drop_the_previous(pg, root, archive):
    report = run_script(pg, root, "restore", archive)
    pg.psql('DROP DATABASE "%s"' % report["previous"])


def bare_dump(pg, folder):
    subprocess.run([str(pg.bindir / "pg_dump"), "--format=custom", "--file=%s" % (folder / "bare.dump"), "airflow"],
                   env=pg.env, check=True)


def bare_basebackup(pg, folder):
    target = folder / "bare-base"
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([str(pg.bindir / "pg_basebackup"), "--pgdata=%s" % target, "--format=plain",
                    "--wal-method=none", "--checkpoint=fast", "--no-password"], env=pg.env, check=True,
                   capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="edp-bench-") as tmp:
        folder = pathlib.Path(tmp)
        root = folder / "backups"
        wal = root / "wal"
        wal.mkdir(parents=True)
        os.chmod(folder, 0o755)
        if os.geteuid() == 0:  # the server archives as postgres
            entry = pwd.getpwnam("postgres")
            os.chown(wal, entry.pw_uid, entry.pw_gid)
        settings = {"wal_level": "replica", "archive_mode": "on",
                    "archive_command": "'test ! -f %s/%%f && cp %%p %s/%%f'" % (wal, wal)}
        with PgServer(settings=settings) as pg:
            populate(pg, options.rows, options.tables)
            first = run_script(pg, root, "dump")
            print("%d rows over %d tables, dump of %.1f MB; median of %d runs"
                  % (options.rows, options.tables, first["size"] / 1e6, options.repeat))
            pairs = [
                ("edp-backup.sh dump", lambda: run_script(pg, root, "dump"),
                 "bare pg_dump --format=custom", lambda: bare_dump(pg, folder)),
                ("edp-backup.sh drill", lambda: run_script(pg, root, "drill", first["archive"]),
                 "bare createdb + pg_restore + dropdb", lambda: bare_restore(pg, first["archive"], "custom", 1)),
                ("edp-backup.sh restore (and swap)", lambda: restore_and_drop_the_previous(pg, root, first["archive"]),
                 "bare createdb + pg_restore + dropdb", lambda: bare_restore(pg, first["archive"], "custom", 1)),
                ("edp-backup.sh basebackup", lambda: run_script(pg, root, "basebackup"),
                 "bare pg_basebackup", lambda: bare_basebackup(pg, folder)),
            ]
            for ours, our_action, bare, bare_action in pairs:
                mine = statistics.median(timed_in_a_fresh_second(our_action) for _ in range(options.repeat))
                theirs = median_seconds(bare_action, options.repeat)
                print("  %-34s %6.2f s   %-36s %6.2f s   %.2fx" % (ours, mine, bare, theirs, mine / theirs))


if __name__ == "__main__":
    main()
