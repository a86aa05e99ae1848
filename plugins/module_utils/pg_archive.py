# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""pg_dump archives and their manifests: what pg_dump_verify checks and the backup writes.

Pure functions (unit-tested in tests/unit/test_pg_archive.py):

* :func:`detect_format` - custom, directory, tar or plain SQL, from the archive's header;
* :func:`archive_digest` and :func:`archive_size` - a file's SHA-256, or for a directory
  archive a digest defined over its files in name order;
* :func:`parse_toc` - the output of ``pg_restore --list``;
* :func:`parse_age` - ``26h``, ``90m``, ``2d`` or seconds;
* :func:`read_manifest`, :func:`validate_manifest`, :func:`build_manifest`,
  :func:`write_manifest` - the manifest written beside the archive at backup time.

And the database side, through psycopg2 (imported guarded; see ``HAS_PSYCOPG2``):
:func:`table_row_counts`, :func:`manifest_from_database` (what the backup calls right after
pg_dump, ideally in the dump's snapshot: :func:`exported_snapshot`) and
:func:`scratch_database` (a database that exists only for the duration of a ``with``).

The manifest (``<archive>.manifest.json``, format_version 1)::

    {"format_version": 1, "database": "airflow", "created": "2026-11-28T17:00:00Z",
     "archive": "airflow-20261128T170000Z.dump", "format": "custom", "size": 12345,
     "sha256": "...", "server_version": "15.18",
     "tables": {"public.dag": 12, "public.dag_run": 40}}

``tables`` holds the rows of every table whose data pg_dump writes (ordinary tables and
partitions of the user schemas, not extension members), keyed ``schema.name``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tarfile
import traceback
from collections import namedtuple
from datetime import datetime, timezone

from ansible_collections.edp.platform.plugins.module_utils.atomic_write import write_atomically

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:
    psycopg2 = sql = None
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None

# What a database call may raise (nothing to catch without the driver).
DATABASE_ERRORS = (psycopg2.Error,) if HAS_PSYCOPG2 else ()

ARCHIVE_FORMATS = ("custom", "directory", "tar")  # what pg_restore reads
MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
CUSTOM_MAGIC = b"PGDMP"
PLAIN_BANNER = b"--\n-- PostgreSQL database dump"
GZIP_MAGIC = b"\x1f\x8b"
TAR_MAGIC = b"ustar"
TAR_MAGIC_OFFSET = 257
DIRECTORY_TOC = "toc.dat"
CHUNK = 1 << 20


class ArchiveError(ValueError):
    """The archive or its manifest is not what it must be; the message says why, in one line."""


# -- format -------------------------------------------------------------------------------

def sniff(head):
    """The format the first bytes of a file announce: custom, tar, plain, or None."""
    if head.startswith(CUSTOM_MAGIC):
        return "custom"
    if head[TAR_MAGIC_OFFSET:TAR_MAGIC_OFFSET + len(TAR_MAGIC)] == TAR_MAGIC:
        return "tar"
    if head.startswith(PLAIN_BANNER):
        return "plain"
    return None


def _read_head(path, size=512):
    with open(path, "rb") as handle:
        return handle.read(size)


def _unknown(head):
    if not head:
        return ArchiveError("the archive is empty (0 bytes)")
    if head.startswith(GZIP_MAGIC):
        return ArchiveError("gzip-compressed data, not a pg_dump archive (a compressed plain dump?)")
    return ArchiveError("not a pg_dump archive: it starts with %r" % head[:16])


def _check_tar(path):
    """A pg_dump tar archive holds toc.dat (its first member, as pg_dump writes it)."""
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar:
                if member.name == DIRECTORY_TOC:
                    return
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError("a damaged tar file: %s" % exc)
    raise ArchiveError("a tar file without %s, not a pg_dump tar archive" % DIRECTORY_TOC)


def _check_directory(path):
    """A pg_dump directory archive holds toc.dat, which starts like a custom archive."""
    toc = os.path.join(path, DIRECTORY_TOC)
    if not os.path.isfile(toc):
        raise ArchiveError("a directory without %s, not a pg_dump directory archive" % DIRECTORY_TOC)
    if sniff(_read_head(toc)) != "custom":
        raise ArchiveError("%s is not a pg_dump table of contents (%s)"
                           % (DIRECTORY_TOC, _unknown(_read_head(toc))))


def detect_format(path):
    """custom, directory, tar or plain, from the archive's header; ArchiveError otherwise.

    Proves the file is what pg_dump writes: ``PGDMP`` for custom, a tar holding ``toc.dat``,
    a directory holding a ``toc.dat``, or SQL text starting with pg_dump's banner.
    """
    if os.path.isdir(path):
        _check_directory(path)
        return "directory"
    if not os.path.exists(path):
        raise ArchiveError("the archive does not exist")
    head = _read_head(path)
    fmt = sniff(head)
    if fmt is None:
        raise _unknown(head)
    if fmt == "tar":
        _check_tar(path)
    return fmt


def expect_format(detected, expected="auto"):
    """Raise ArchiveError when the detected format is not the one expected (auto: any archive)."""
    if expected == "auto":
        if detected not in ARCHIVE_FORMATS:
            raise ArchiveError("plain SQL, which pg_restore cannot read, where a custom, directory "
                               "or tar archive was expected")
    elif detected != expected:
        what = "plain SQL" if detected == "plain" else "a %s-format archive" % detected
        raise ArchiveError("%s where a %s-format archive was expected" % (what, expected))


# -- size and digest ----------------------------------------------------------------------

def _directory_files(path):
    """Relative paths (``/``-separated) of the regular files below path, in name order."""
    found = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if os.path.isfile(full):
                found.append(os.path.relpath(full, path).replace(os.sep, "/"))
    return sorted(found)


def file_sha256(path):
    """The SHA-256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def archive_digest(path):
    """SHA-256 of a file; for a directory archive, of its files' ``sha256sum`` lines.

    The directory digest is the SHA-256 of ``"<sha256 of file>  <relative name>\\n"`` for every
    file, in name order, so it can be recomputed by hand:
    ``cd DIR && find . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum``.
    """
    if not os.path.isdir(path):
        return file_sha256(path)
    lines = "".join("%s  %s\n" % (file_sha256(os.path.join(path, name)), name) for name in _directory_files(path))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def archive_size(path):
    """Bytes of the archive (a directory: the sum of its files)."""
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(path, name)) for name in _directory_files(path))


# -- table of contents --------------------------------------------------------------------

TocEntry = namedtuple("TocEntry", "dump_id desc schema name owner")
Toc = namedtuple("Toc", "header entries")

# pg_restore --list prints "id; tableoid oid DESC schema name owner"; a DESC may hold spaces.
_TOC_LINE = re.compile(r"^(\d+); \d+ \d+ (.+)$")
_MULTIWORD_DESCS = sorted((
    "TABLE DATA", "TABLE ATTACH", "SEQUENCE SET", "SEQUENCE OWNED BY", "FK CONSTRAINT",
    "CHECK CONSTRAINT", "DEFAULT ACL", "LARGE OBJECT", "BLOB METADATA", "MATERIALIZED VIEW DATA",
    "MATERIALIZED VIEW", "FOREIGN TABLE", "FOREIGN DATA WRAPPER", "USER MAPPING",
    "EVENT TRIGGER", "ACCESS METHOD", "OPERATOR CLASS", "OPERATOR FAMILY", "INDEX ATTACH",
    "ROW SECURITY", "SHELL TYPE", "PROCEDURAL LANGUAGE", "DATABASE PROPERTIES",
    "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "SUBSCRIPTION TABLE",
    "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER",
    "TEXT SEARCH TEMPLATE", "STATISTICS DATA",
), key=len, reverse=True)


def _toc_entry(dump_id, rest):
    desc = next((d for d in _MULTIWORD_DESCS if rest.startswith(d + " ")), rest.split(" ", 1)[0])
    words = rest[len(desc):].split()
    # schema is one word and owner the last; a name may hold spaces ("log event").
    schema, owner = (words[0], words[-1]) if len(words) >= 2 else ("-", "-")
    return TocEntry(int(dump_id), desc, schema, " ".join(words[1:-1]), owner)


def _toc_header(line, header):
    text = line.lstrip(";").strip()
    if text.startswith("Archive created at "):
        header["created"] = text[len("Archive created at "):]
    elif ": " in text:
        key, value = text.split(": ", 1)
        header[key.strip().lower()] = value.strip()


def parse_toc(text):
    """``pg_restore --list`` output as Toc(header, entries).

    header: lower-case keys as printed (``dbname``, ``format``, ``toc entries``,
    ``dumped from database version``, ...) and ``created``; entries: TocEntry tuples.
    """
    header, entries = {}, []
    for line in text.splitlines():
        if line.startswith(";"):
            if not entries:
                _toc_header(line, header)
            continue
        match = _TOC_LINE.match(line.strip())
        if match:
            entries.append(_toc_entry(*match.groups()))
    return Toc(header, entries)


def toc_tables(toc):
    """``schema.name`` of every table whose rows the archive holds (its TABLE DATA entries)."""
    return ["%s.%s" % (e.schema, e.name) for e in toc.entries if e.desc == "TABLE DATA"]


def pg_restore_error(stderr, returncode=None):
    """pg_restore's complaint in one line: its error lines, without the SQL it ran."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [re.sub(r"^pg_restore: (error|detail|hint): ", "", line) for line in lines
              if re.match(r"pg_restore: (error|detail|hint): ", line)]
    text = " / ".join(errors or lines[-1:]) or "exit code %s" % returncode
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= 400 else text[:397] + "..."


def list_command(pg_restore, path, fmt):
    """argv of ``pg_restore --list`` (reads the archive only; needs no server)."""
    return [pg_restore, "--list", "--format=%s" % fmt, path]


def restore_command(pg_restore, path, fmt, dbname, jobs=1):
    """argv of the scratch restore: no owners, no grants, stop at the first error.

    The connection comes from the environment (:func:`libpq_env`), never the command line.
    Parallel jobs are used for custom and directory archives (pg_restore cannot with tar).
    """
    argv = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--format=%s" % fmt,
            "--dbname=%s" % dbname]
    if jobs > 1 and fmt != "tar":
        argv.append("--jobs=%d" % jobs)
    return argv + [path]


# -- age ----------------------------------------------------------------------------------

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(value):
    """Seconds from an int, a string of digits, or a duration like ``26h``, ``90m``, ``1d12h``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("max_age must be seconds or a duration like 26h, 90m, 2d, got %r" % (value,))
    text = str(value).strip().lower()
    if text.isdigit():
        return int(text)
    if not re.fullmatch(r"(\d+[smhdw])+", text):
        raise ValueError("max_age %r is not seconds or a duration like 26h, 90m, 2d, 1d12h" % (value,))
    return sum(int(n) * _AGE_UNITS[unit] for n, unit in re.findall(r"(\d+)([smhdw])", text))


def format_duration(seconds):
    """``90s``, ``12m``, ``1h 30m``, ``3d 2h``: at most two units, zeros left out."""
    seconds = int(seconds)
    if seconds < 120:
        return "%ds" % seconds
    amounts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m")]
    first = next(index for index, (amount, _unit) in enumerate(amounts) if amount)
    return " ".join("%d%s" % pair for pair in amounts[first:first + 2] if pair[0])


def parse_time(text):
    """An aware datetime from ISO 8601 with a zone (``2026-11-28T17:00:00Z``)."""
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if value.tzinfo is None:
        raise ValueError("no time zone")
    return value


def utc_now_text(now=None):
    """``2026-11-28T17:00:00Z`` for now (or the given aware datetime)."""
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_seconds(created, now=None):
    """Seconds since the manifest's ``created`` (an ISO 8601 string)."""
    return int(((now or datetime.now(timezone.utc)) - parse_time(created)).total_seconds())


# -- manifest -----------------------------------------------------------------------------

_MANIFEST_FIELDS = {
    "format_version": int, "database": str, "created": str, "archive": str, "format": str,
    "size": int, "sha256": str, "server_version": str, "tables": dict,
}


def manifest_path(archive):
    """Where the manifest of an archive lives by default: ``<archive>.manifest.json``."""
    return archive.rstrip("/" + os.sep) + MANIFEST_SUFFIX


def _field_problems(data):
    problems = []
    for name, kind in _MANIFEST_FIELDS.items():
        if name not in data:
            problems.append("%s is missing" % name)
        elif not isinstance(data[name], kind) or isinstance(data[name], bool):
            problems.append("%s must be a %s" % (name, {int: "number", str: "string", dict: "mapping"}[kind]))
    return problems


def _value_problems(data):
    problems = []
    if data["format_version"] != MANIFEST_VERSION:
        problems.append("format_version %s is not supported (this reads %d)"
                        % (data["format_version"], MANIFEST_VERSION))
    if data["format"] not in ARCHIVE_FORMATS:
        problems.append("format %r is not one of %s" % (data["format"], ", ".join(ARCHIVE_FORMATS)))
    if not re.fullmatch(r"[0-9a-f]{64}", data["sha256"]):
        problems.append("sha256 is not 64 lower-case hex digits")
    if data["size"] < 0:
        problems.append("size is negative")
    try:
        parse_time(data["created"])
    except ValueError:
        problems.append("created %r is not an ISO 8601 time with a zone" % data["created"])
    bad = [name for name, rows in data["tables"].items()
           if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0]
    if bad:
        problems.append("tables must map schema.name to a row count (bad: %s)" % ", ".join(sorted(bad)[:5]))
    return problems


def validate_manifest(data):
    """Every problem of a manifest's content, as a list of phrases (empty when valid)."""
    if not isinstance(data, dict):
        return ["not a JSON object"]
    return _field_problems(data) or _value_problems(data)


def read_manifest(path):
    """The manifest at path, validated; ArchiveError naming every problem otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ArchiveError("no manifest at %s" % path)
    except (OSError, ValueError) as exc:
        raise ArchiveError("manifest %s is not readable JSON: %s" % (path, exc))
    problems = validate_manifest(data)
    if problems:
        raise ArchiveError("manifest %s is invalid: %s" % (path, "; ".join(problems)))
    return data


def build_manifest(archive, database, tables, server_version, created=None):
    """The manifest of an archive: its format, size and digest, and the database's figures.

    ``tables`` maps ``schema.name`` to rows (:func:`table_row_counts`); ``created`` is when the
    dump was taken (ISO 8601 UTC; default now).
    """
    fmt = detect_format(archive)
    expect_format(fmt)
    return {
        "format_version": MANIFEST_VERSION,
        "database": database,
        "created": created or utc_now_text(),
        "archive": os.path.basename(archive.rstrip("/" + os.sep)),
        "format": fmt,
        "size": archive_size(archive),
        "sha256": archive_digest(archive),
        "server_version": server_version,
        "tables": dict(sorted(tables.items())),
    }


def write_manifest(manifest, path):
    """Write the manifest as JSON (0644), atomically (a reader never sees half a manifest)."""
    return write_atomically(path, json.dumps(manifest, indent=2) + "\n", mode=0o644)


def compare_row_counts(expected, actual):
    """Phrases for every table whose rows differ between the manifest and a restore."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            problems.append("%s is in the manifest (%d rows) but not in the restore" % (name, expected[name]))
        elif name not in expected:
            problems.append("%s was restored (%d rows) but is not in the manifest" % (name, actual[name]))
        elif expected[name] != actual[name]:
            problems.append("row count of %s is %d in the restore, %d in the manifest"
                            % (name, actual[name], expected[name]))
    return problems


# -- database -----------------------------------------------------------------------------

# The rows of every table whose data pg_dump writes - ordinary tables and partitions of the user
# schemas, not the members of extensions (CREATE EXTENSION brings those back) - as (name, rows),
# name ``schema.name``, counted with ``count(*) FROM ONLY``. One query (query_to_xml counts each
# table), so that psql runs it as it is: this text is the one source of the counts of the
# manifest, the restore check and the drill. pg_dump_verify runs it here; edp-backup.sh reads it
# from edp-row-counts.sql beside itself, which the dr role writes from this text (lookup
# edp.platform.pg_row_counts_sql). No trailing semicolon: the script uses it as a subquery.
ROW_COUNTS_SQL = """SELECT n.nspname || '.' || c.relname AS name,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I',
                                                   n.nspname, c.relname), false, true, '')))[1]::text::bigint AS rows
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""


def connect_kwargs(params, dbname):
    """psycopg2.connect() keywords from the module's login_* options."""
    kwargs = {"host": params.get("login_unix_socket") or params.get("login_host"),
              "port": params.get("login_port"), "user": params.get("login_user"), "dbname": dbname}
    if params.get("login_password"):
        kwargs["password"] = params["login_password"]
    return {key: value for key, value in kwargs.items() if value not in (None, "")}


def libpq_env(params):
    """Environment for libpq clients (pg_restore): the password in PGPASSWORD, never in argv."""
    kwargs = connect_kwargs(params, None)
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    return {names[key]: str(value) for key, value in kwargs.items() if key in names}


def connect(params, dbname):
    """An autocommit psycopg2 connection (needs HAS_PSYCOPG2)."""
    conn = psycopg2.connect(**connect_kwargs(params, dbname))
    conn.autocommit = True
    return conn


def table_row_counts(cursor):
    """{``schema.name``: rows} of every table whose data pg_dump writes (:data:`ROW_COUNTS_SQL`,
    the query edp-backup.sh runs for the manifest)."""
    cursor.execute(ROW_COUNTS_SQL)
    return {name: rows for name, rows in cursor.fetchall()}


def database_row_counts(params, dbname):
    """:func:`table_row_counts` of another database (a restored scratch database)."""
    conn = connect(params, dbname)
    try:
        with conn.cursor() as cursor:
            return table_row_counts(cursor)
    finally:
        conn.close()


def manifest_from_database(conn, archive, created=None):
    """The manifest of an archive just dumped from the database ``conn`` is connected to.

    Run it on the connection that exported the dump's snapshot (:func:`exported_snapshot`)
    so the row counts are those of the dump even while the database is being written to.
    """
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_setting('server_version')")
        database, version = cursor.fetchone()
        tables = table_row_counts(cursor)
    return build_manifest(archive, database, tables, version.split()[0], created)


@contextlib.contextmanager
def exported_snapshot(conn):
    """Open a read-only REPEATABLE READ transaction and yield its exported snapshot id.

    Pass the id to ``pg_dump --snapshot`` and count rows on ``conn`` inside the ``with``:
    both see the same data. The transaction is rolled back at the end.
    """
    autocommit = conn.autocommit
    conn.autocommit = False
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            yield cursor.fetchone()[0]
    finally:
        conn.rollback()
        conn.set_session(isolation_level="DEFAULT", readonly="DEFAULT", autocommit=autocommit)


def scratch_name(prefix, token=None):
    """A unique database name: ``<prefix>_<UTC time>_<random>`` (at most 63 bytes)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    return ("%s_%s_%s" % (prefix, stamp, token or secrets.token_hex(4)))[:63]


@contextlib.contextmanager
def scratch_database(params, prefix):
    """Create an empty database (from template0) and drop it when the ``with`` ends, whatever happens.

    Yields its name. A failed drop raises ArchiveError naming the database left behind.
    """
    name = scratch_name(prefix)
    admin = connect(params, params.get("maintenance_db") or "postgres")
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            _drop_database(admin, name)
    finally:
        admin.close()


def _drop_database(admin, name):
    force = sql.SQL(" WITH (FORCE)") if admin.server_version >= 130000 else sql.SQL("")
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)
    except psycopg2.Error as exc:
        raise ArchiveError("scratch database %s could not be dropped: %s" % (name, str(exc).strip()))
