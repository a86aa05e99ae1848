#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Prove a pg_dump archive is usable (the logic lives in module_utils/pg_archive.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_dump_verify
short_description: Prove a pg_dump archive is usable - format, checksum, age, restore and row counts
version_added: 0.1.0
description:
  - Checks a custom, directory or tar archive written by C(pg_dump), in this order, and
    reports every check with its figures. A check that depends on one that failed is
    skipped and reported as skipped.
  - C(format) - the archive exists and its header is what C(pg_dump) writes (C(PGDMP) for
    custom, a tar holding C(toc.dat), a directory holding C(toc.dat)); a plain SQL dump is
    recognised and reported as such, and fails, since C(pg_restore) cannot read it. The
    format must be O(format).
  - C(toc) - C(pg_restore --list) reads the table of contents; its TABLE DATA entries are
    the tables counted in RV(tables).
  - C(manifest) - the manifest written at backup time (O(manifest)) is valid and records
    this format.
  - C(tables) - the archive holds data for exactly the tables the manifest lists.
  - C(sha256) - the archive's size and SHA-256 are those of the manifest. For a directory
    archive the digest is the SHA-256 of the C(sha256sum) lines of its files in name order.
  - C(age) - the manifest's creation time is within O(max_age).
  - C(database) - the archive is of O(database), by its manifest and by its own table of
    contents.
  - C(restore) - with O(restore), and only when every other check passed, the archive is
    restored with C(pg_restore --no-owner --no-privileges --exit-on-error) into a scratch
    database with a unique name (O(scratch_database_prefix)), which is always dropped
    afterwards, even on failure; then the rows of every table are counted and compared
    with the manifest.
  - Nothing that stays is changed, so the module never reports C(changed).
  - 'The manifest is a JSON file written by the backup with the function C(manifest_from_database) of the
    collection''s C(pg_archive) module utils -
    C({"format_version": 1, "database": "airflow", "created": "2026-11-28T17:00:00Z",
    "archive": "airflow.dump", "format": "custom", "size": 12345, "sha256": "...",
    "server_version": "15.18", "tables": {"public.dag": 12}}).'
author:
  - edp.platform contributors
options:
  path:
    description:
      - The archive, on the managed host - a file (custom or tar format) or a directory
        (directory format).
    type: path
    required: true
    aliases: [archive]
  manifest:
    description:
      - The manifest written at backup time. Defaults to C(<path>.manifest.json).
    type: path
  format:
    description:
      - The format the archive must have. V(auto) accepts any format C(pg_restore) reads.
    type: str
    choices: [auto, custom, directory, tar]
    default: auto
  max_age:
    description:
      - The oldest the backup may be, by the manifest's creation time - seconds, or a
        duration such as V(26h), V(90m), V(2d), V(1d12h).
      - Without it the age is reported, not checked.
    type: raw
  database:
    description:
      - The database the archive must be of. Without it, the manifest and the archive must
        only agree.
    type: str
  restore:
    description:
      - Restore the archive into a scratch database and compare every table's rows with the
        manifest. Needs a server, C(CREATEDB) for O(login_user), and psycopg2.
      - Skipped in check mode.
    type: bool
    default: false
  jobs:
    description:
      - Parallel jobs of the restore (C(pg_restore --jobs)); custom and directory archives only.
    type: int
    default: 1
  scratch_database_prefix:
    description:
      - The scratch database is named C(<prefix>_<UTC time>_<random>). Lower-case letters,
        digits and underscores.
    type: str
    default: edp_verify
  pg_bindir:
    description:
      - The folder holding C(pg_restore) (it must be of the archive's PostgreSQL major
        version or newer). Defaults to the C(pg_restore) found on the E(PATH).
    type: path
  login_host:
    description:
      - The PostgreSQL server to restore into.
    type: str
    default: localhost
  login_port:
    description:
      - The server's port.
    type: int
    default: 5432
  login_user:
    description:
      - The role that creates, restores into and drops the scratch database.
    type: str
    default: postgres
  login_password:
    description:
      - The role's password. Never logged; C(pg_restore) gets it in its environment
        (E(PGPASSWORD)), never on its command line. Other libpq settings (E(PGSSLMODE),
        C(~/.pgpass)) are taken from the environment.
    type: str
  login_unix_socket:
    description:
      - The folder of the server's Unix socket; used instead of O(login_host) when set.
    type: str
  maintenance_db:
    description:
      - The database connected to when creating and dropping the scratch database.
    type: str
    default: postgres
attributes:
  check_mode:
    support: full
    description: Every read-only check runs; the restore is skipped and reported as skipped.
  diff_mode:
    support: none
requirements:
  - C(pg_restore) on the managed host
  - psycopg2 on the managed host, for O(restore)
notes:
  - A plain SQL dump is recognised but always fails - restore it with C(psql) instead.
  - If the module is killed during a restore (a task timeout), the scratch database may be
    left behind; its name starts with O(scratch_database_prefix).
seealso:
  - name: pg_restore
    description: The PostgreSQL tool that reads and restores the archive.
    link: https://www.postgresql.org/docs/current/app-pgrestore.html
"""

EXAMPLES = r"""
- name: Verify last night's backup, restoring it into a scratch database
  edp.platform.pg_dump_verify:
    path: /var/backups/postgres/airflow-20261128T170000Z.dump
    format: custom
    database: airflow
    max_age: 26h
    restore: true
    jobs: 2
    login_host: localhost
    login_user: postgres
    login_password: "{{ vault_postgres_password }}"

- name: Check a directory archive without a server (no restore)
  edp.platform.pg_dump_verify:
    path: /var/backups/postgres/airflow-20261128T170000Z.dir
    max_age: 2d

- name: Verify through the Unix socket with the pg_restore of PostgreSQL 15
  edp.platform.pg_dump_verify:
    path: /var/backups/postgres/airflow.tar
    manifest: /var/backups/manifests/airflow.tar.json
    restore: true
    login_unix_socket: /var/run/postgresql
    pg_bindir: /usr/lib/postgresql/15/bin
  register: backup_check

- name: Show the figures
  ansible.builtin.debug:
    msg: "{{ backup_check.tables }} tables, {{ backup_check.rows }} rows, {{ backup_check.age_seconds }} s old"
"""

RETURN = r"""
archive:
  description: The archive verified (not C(path), which Ansible would decorate with file attributes).
  returned: always
  type: str
  sample: /var/backups/postgres/airflow-20261128T170000Z.dump
manifest:
  description: The manifest read.
  returned: always
  type: str
  sample: /var/backups/postgres/airflow-20261128T170000Z.dump.manifest.json
format:
  description: The format detected - custom, directory, tar or plain.
  returned: when the archive exists and is recognised
  type: str
  sample: custom
size:
  description: Bytes of the archive (a directory - the sum of its files).
  returned: when the format check passed
  type: int
  sample: 12345
sha256:
  description: The archive's SHA-256 (a directory - the digest of its files' digests).
  returned: when the manifest was read
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
tables:
  description: The tables whose data the archive holds (TABLE DATA entries of its table of contents).
  returned: when the toc check passed
  type: int
  sample: 2
rows:
  description: Rows of all tables - counted in the restore, or as the manifest records them without one.
  returned: when the manifest was read
  type: int
  sample: 52
row_counts:
  description: Rows per table (C(schema.name)) counted in the restored scratch database.
  returned: when restored
  type: dict
  sample: {public.dag: 12, public.dag_run: 40}
database:
  description: The database the archive is of, by its manifest.
  returned: when the manifest was read
  type: str
  sample: airflow
created:
  description: When the backup was taken, by its manifest.
  returned: when the manifest was read
  type: str
  sample: "2026-11-28T17:00:00Z"
server_version:
  description: The server version the archive was dumped from, by its manifest.
  returned: when the manifest was read
  type: str
  sample: "15.18"
age_seconds:
  description: Seconds since the backup was taken.
  returned: when the manifest was read
  type: int
  sample: 3600
duration_seconds:
  description: How long the verification took.
  returned: always
  type: float
  sample: 1.42
restored:
  description: Whether the archive was restored into a scratch database.
  returned: always
  type: bool
  sample: true
scratch_database:
  description: The scratch database used for the restore, dropped since.
  returned: when a restore was attempted
  type: str
  sample: edp_verify_20261128170512_3fa2b1c4
checks:
  description: Every check that ran, in order, with whether it passed and what it found.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: format, toc, manifest, tables, sha256, age, database or restore.
      type: str
    passed:
      description: Whether the check passed.
      type: bool
    detail:
      description: What the check found, or what is wrong.
      type: str
  sample:
    - {name: format, passed: true, detail: "custom archive, 12345 bytes"}
    - {name: sha256, passed: false, detail: "truncated: 6000 bytes, the manifest records 12345"}
skipped_checks:
  description: Checks that did not run, and why (a check they need failed, or check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: restore, reason: "check mode: nothing is restored"}
msg:
  description: The outcome in one line; on failure, the archive and every failed check.
  returned: always
  type: str
  sample: >-
    pg_dump archive /var/backups/airflow.dump: sha256 check failed: truncated: 6000 bytes,
    the manifest records 12345
"""

import os
import re
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.edp.platform.plugins.module_utils import pg_archive as pa

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True, aliases=["archive"]),
    manifest=dict(type="path"),
    format=dict(type="str", default="auto", choices=["auto"] + list(pa.ARCHIVE_FORMATS)),
    max_age=dict(type="raw"),
    database=dict(type="str"),
    restore=dict(type="bool", default=False),
    jobs=dict(type="int", default=1),
    scratch_database_prefix=dict(type="str", default="edp_verify"),
    pg_bindir=dict(type="path"),
    login_host=dict(type="str", default="localhost"),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str", default="postgres"),
    login_password=dict(type="str", no_log=True),
    login_unix_socket=dict(type="str"),
    maintenance_db=dict(type="str", default="postgres"),
)

PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,39}")
HANDLED_ERRORS = (pa.ArchiveError, OSError) + pa.DATABASE_ERRORS


def _one_line(exc):
    return re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__


def _some(names, limit=5):
    names = sorted(names)
    more = " and %d more" % (len(names) - limit) if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class Verification:
    """The checks of one archive, in order; each ``check_*`` method proves one thing.

    A check returns a phrase saying what it found, or raises ArchiveError saying what is
    wrong. A check that needs one that did not pass is skipped, as is the restore in check
    mode. ``params`` are the module's options with ``max_age`` in seconds;
    ``run_command(argv, environ_update=None) -> (rc, stdout, stderr)`` is
    AnsibleModule.run_command or a stand-in (tests, bench).
    """

    def __init__(self, params, run_command, pg_restore, check_mode=False):
        self.params = params
        self.path = params["path"]
        self.run_command = run_command
        self.pg_restore = pg_restore
        self.check_mode = check_mode
        self.fmt = self.toc = self.manifest = None
        self.checks, self.skipped = [], []
        self.facts = {"archive": self.path, "manifest": params.get("manifest") or pa.manifest_path(self.path),
                      "restored": False, "changed": False}

    # -- the run ----------------------------------------------------------------------
    def run(self):
        """Every check in order; the module's result (with ``failed``)."""
        started = time.monotonic()
        self._step("format", self.check_format)
        self._step("toc", self.check_toc, needs=["format"])
        self._step("manifest", self.check_manifest, needs=["format"])
        self._step("tables", self.check_tables, needs=["toc", "manifest"])
        self._step("sha256", self.check_sha256, needs=["manifest"])
        self._step("age", self.check_age, needs=["manifest"])
        self._step("database", self.check_database, needs=["manifest"])
        if self.params["restore"]:
            self._restore_step()
        self.facts["duration_seconds"] = round(time.monotonic() - started, 3)
        return self._result()

    def _passed(self, name):
        return any(c["name"] == name and c["passed"] for c in self.checks)

    def _step(self, name, check, needs=()):
        missing = [need for need in needs if not self._passed(need)]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            self.skipped.append({"name": name, "reason": "needs the %s check%s" % (" and ".join(missing), plural)})
            return
        try:
            self.checks.append({"name": name, "passed": True, "detail": check()})
        except HANDLED_ERRORS as exc:
            self.checks.append({"name": name, "passed": False, "detail": _one_line(exc)})

    def _restore_step(self):
        if any(not c["passed"] for c in self.checks):
            self.skipped.append({"name": "restore", "reason": "an earlier check failed"})
        elif self.check_mode:
            self.skipped.append({"name": "restore", "reason": "check mode: nothing is restored"})
        else:
            self._step("restore", self.check_restore)

    def _result(self):
        failed = [c for c in self.checks if not c["passed"]]
        if failed:
            msg = "pg_dump archive %s: %s" % (self.path, "; ".join(
                "%s check failed: %s" % (c["name"], c["detail"]) for c in failed))
        else:
            msg = "pg_dump archive %s verified: %s" % (self.path, self._summary())
        return dict(self.facts, checks=self.checks, skipped_checks=self.skipped, failed=bool(failed), msg=msg)

    def _summary(self):
        facts = self.facts
        summary = "%s, %d tables, %d rows" % (facts["format"], facts["tables"], facts["rows"])
        if facts["restored"]:
            return summary + ", restored with matching row counts"
        reasons = [s["reason"] for s in self.skipped if s["name"] == "restore"]
        return summary + (", restore skipped (%s)" % reasons[0] if reasons else ", not restored")

    # -- the checks -------------------------------------------------------------------
    def check_format(self):
        """The archive exists and is what pg_dump writes, in the expected format."""
        self.fmt = self.facts["format"] = pa.detect_format(self.path)
        pa.expect_format(self.fmt, self.params["format"])
        self.facts["size"] = pa.archive_size(self.path)
        return "%s archive, %d bytes" % (self.fmt, self.facts["size"])

    def check_toc(self):
        """pg_restore reads the archive's header and table of contents (and supports its version)."""
        rc, out, err = self.run_command(pa.list_command(self.pg_restore, self.path, self.fmt))
        if rc != 0:
            raise pa.ArchiveError("pg_restore --list failed: %s" % pa.pg_restore_error(err, rc))
        self.toc = pa.parse_toc(out)
        self.facts["tables"] = len(pa.toc_tables(self.toc))
        return "%d entries, %d tables with data, from database %s, dumped by pg_dump %s" % (
            len(self.toc.entries), self.facts["tables"], self.toc.header.get("dbname", "?"),
            self.toc.header.get("dumped by pg_dump version", "?"))

    def check_manifest(self):
        """The manifest written at backup time exists, is valid and records this format."""
        manifest = self.manifest = pa.read_manifest(self.facts["manifest"])
        self.facts.update(database=manifest["database"], created=manifest["created"],
                          server_version=manifest["server_version"], rows=sum(manifest["tables"].values()))
        if manifest["format"] != self.fmt:
            raise pa.ArchiveError("the manifest records a %s archive, this is a %s archive"
                                  % (manifest["format"], self.fmt))
        return "%s: %d tables, %d rows, created %s" % (
            self.facts["manifest"], len(manifest["tables"]), self.facts["rows"], manifest["created"])

    def check_tables(self):
        """The archive holds data for exactly the tables the manifest lists."""
        in_archive, in_manifest = set(pa.toc_tables(self.toc)), set(self.manifest["tables"])
        missing, unlisted = in_manifest - in_archive, in_archive - in_manifest
        problems = []
        if missing:
            problems.append("the archive has no data for %s, which the manifest lists" % _some(missing))
        if unlisted:
            problems.append("the manifest does not list %s, which the archive holds" % _some(unlisted))
        if problems:
            raise pa.ArchiveError("; ".join(problems))
        return "the %d tables of the manifest" % len(in_manifest)

    def check_sha256(self):
        """The archive is byte for byte what the backup wrote (size first: it names a truncation)."""
        digest = self.facts["sha256"] = pa.archive_digest(self.path)
        size, recorded = self.facts["size"], self.manifest["size"]
        if size < recorded:
            raise pa.ArchiveError("truncated: %d bytes, the manifest records %d" % (size, recorded))
        if size > recorded:
            raise pa.ArchiveError("%d bytes, more than the %d the manifest records" % (size, recorded))
        if digest != self.manifest["sha256"]:
            raise pa.ArchiveError("sha256 %s... differs from the manifest's %s...: the archive changed after "
                                  "the backup" % (digest[:16], self.manifest["sha256"][:16]))
        return digest

    def check_age(self):
        """The backup is recent: the manifest's creation time is within max_age."""
        created, max_age = self.manifest["created"], self.params.get("max_age")
        age = self.facts["age_seconds"] = pa.age_seconds(created)
        if max_age is None:
            return "created %s, %s ago (no max_age)" % (created, pa.format_duration(age))
        if age > max_age:
            raise pa.ArchiveError("older than max_age %s: created %s, %s ago" % (
                pa.format_duration(max_age), created, pa.format_duration(age)))
        return "created %s, %s ago, within %s" % (created, pa.format_duration(age), pa.format_duration(max_age))

    def check_database(self):
        """The archive is of the expected database, by its manifest and by its own table of contents."""
        expected, recorded = self.params.get("database"), self.manifest["database"]
        dumped = self.toc.header.get("dbname") if self.toc else None
        if expected and recorded != expected:
            raise pa.ArchiveError("an archive of another database: %s, where %s was expected"
                                  % (recorded, expected))
        if dumped and dumped != recorded:
            raise pa.ArchiveError("the archive was dumped from %s, its manifest says %s" % (dumped, recorded))
        return recorded

    def check_restore(self):
        """The archive restores, every entry, into an empty database, and every table holds the
        rows the manifest recorded at backup time. The scratch database is always dropped."""
        with pa.scratch_database(self.params, self.params["scratch_database_prefix"]) as name:
            self.facts["scratch_database"] = name
            argv = pa.restore_command(self.pg_restore, self.path, self.fmt, name, self.params["jobs"])
            rc, _out, err = self.run_command(argv, environ_update=pa.libpq_env(self.params))
            if rc != 0:
                raise pa.ArchiveError("pg_restore failed: %s" % pa.pg_restore_error(err, rc))
            counts = pa.database_row_counts(self.params, name)
        self.facts.update(restored=True, row_counts=counts, rows=sum(counts.values()))
        problems = pa.compare_row_counts(self.manifest["tables"], counts)
        if problems:
            more = " (and %d more)" % (len(problems) - 3) if len(problems) > 3 else ""
            raise pa.ArchiveError("; ".join(problems[:3]) + more)
        return "restored into %s (dropped since): %d tables, %d rows, as in the manifest" % (
            name, len(counts), self.facts["rows"])


# -- the module ---------------------------------------------------------------------------

def _find_pg_restore(module):
    bindir = module.params["pg_bindir"]
    if bindir:
        path = os.path.join(bindir, "pg_restore")
        if not os.access(path, os.X_OK):
            module.fail_json(msg="pg_restore not found in pg_bindir %s" % bindir)
        return path
    path = module.get_bin_path("pg_restore")
    if not path:
        module.fail_json(msg="pg_restore not found on the PATH: install the PostgreSQL client or set pg_bindir")
    return path


def _checked_params(module):
    """The options, with max_age in seconds; fails on values the spec cannot check."""
    params = dict(module.params)
    if params["max_age"] is not None:
        try:
            params["max_age"] = pa.parse_age(params["max_age"])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
    if not PREFIX_PATTERN.fullmatch(params["scratch_database_prefix"]):
        module.fail_json(msg="scratch_database_prefix must be lower-case letters, digits and underscores "
                             "(at most 40)")
    if params["jobs"] < 1:
        module.fail_json(msg="jobs must be at least 1")
    if params["restore"] and not module.check_mode and not pa.HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=pa.PSYCOPG2_IMPORT_ERROR)
    return params


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = _checked_params(module)
    verification = Verification(params, module.run_command, _find_pg_restore(module), module.check_mode)
    try:
        result = verification.run()
    except Exception as exc:  # a bug of ours: still one line, the traceback only with -vvv
        module.fail_json(msg="pg_dump archive %s: verification failed unexpectedly: %s"
                         % (params["path"], _one_line(exc)), exception=traceback.format_exc())
    if result.pop("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
