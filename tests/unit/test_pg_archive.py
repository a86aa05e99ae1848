"""The pure parts of pg_dump_verify (module_utils/pg_archive.py), and the module's documentation."""

import hashlib
import io
import json
import subprocess
import tarfile
from datetime import datetime, timezone

import pytest
import yaml

from ansible_collections.edp.platform.plugins.module_utils import pg_archive as pa
from ansible_collections.edp.platform.plugins.modules import pg_dump_verify

# `pg_restore --list` of a pg_dump 15.18 custom archive (tables with spaces and capitals in
# their names, another schema, a partition, a materialized view, a view, a comment).
TOC_SAMPLE = """\
;
; Archive created at 2026-11-28 18:30:11 UTC
;     dbname: airflow
;     TOC Entries: 31
;     Compression: -1
;     Dump Version: 1.14-0
;     Format: CUSTOM
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 15.18 (Debian 15.18-0+deb12u1)
;
;
; Selected TOC Entries:
;
6; 2615 16406 SCHEMA - audit postgres
218; 1259 16407 TABLE audit log event postgres
219; 1259 16412 TABLE public Mixed Case postgres
215; 1259 16385 TABLE public dag postgres
3396; 0 0 COMMENT public TABLE dag postgres
217; 1259 16393 TABLE public dag_run postgres
216; 1259 16392 SEQUENCE public dag_run_id_seq postgres
3397; 0 0 SEQUENCE OWNED BY public dag_run_id_seq postgres
221; 1259 16420 MATERIALIZED VIEW public mv postgres
223; 1259 16429 TABLE public parent postgres
224; 1259 16432 TABLE public part1 postgres
222; 1259 16426 TABLE public u postgres
220; 1259 16416 VIEW public v postgres
3230; 0 0 TABLE ATTACH public part1 postgres
3231; 2604 16396 DEFAULT public dag_run id postgres
3385; 0 16407 TABLE DATA audit log event postgres
3386; 0 16412 TABLE DATA public Mixed Case postgres
3382; 0 16385 TABLE DATA public dag postgres
3384; 0 16393 TABLE DATA public dag_run postgres
3389; 0 16432 TABLE DATA public part1 postgres
3388; 0 16426 TABLE DATA public u postgres
3398; 0 0 SEQUENCE SET public dag_run_id_seq postgres
3233; 2606 16391 CONSTRAINT public dag dag_pkey postgres
3235; 2606 16400 CONSTRAINT public dag_run dag_run_pkey postgres
3236; 1259 16415 INDEX public dag_run_run_id_idx postgres
3237; 2606 16401 FK CONSTRAINT public dag_run dag_run_dag_id_fkey postgres
3387; 0 16420 MATERIALIZED VIEW DATA public mv postgres
"""

CUSTOM_HEAD = b"PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01" + b"\x00" * 100
PLAIN_HEAD = b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.18\n"


def tar_bytes(*members):
    """A tar made of (name, bytes) members, as pg_dump's tar format is."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write(path, data):
    path.write_bytes(data)
    return str(path)


DIRECTORY_FILES = {"toc.dat": CUSTOM_HEAD, "3382.dat.gz": b"rows", "3384.dat.gz": b"more rows"}


def directory_archive(folder, files=None):
    folder.mkdir()
    for name, data in (files or DIRECTORY_FILES).items():
        (folder / name).write_bytes(data)
    return str(folder)


def valid_manifest(**changes):
    manifest = {"format_version": 1, "database": "airflow", "created": "2026-11-28T17:00:00Z",
                "archive": "airflow.dump", "format": "custom", "size": 12345, "sha256": "ab" * 32,
                "server_version": "15.18", "tables": {"public.dag": 12, "public.dag_run": 40}}
    manifest.update(changes)
    return manifest


# -- format detection -----------------------------------------------------------------------

@pytest.mark.parametrize("head,expected", [
    (CUSTOM_HEAD, "custom"),
    (PLAIN_HEAD, "plain"),
    (tar_bytes(("toc.dat", CUSTOM_HEAD))[:512], "tar"),
    (b"--\n-- PostgreSQL database cluster dump\n", None),
    (b"\x1f\x8b\x08\x00", None),
    (b"", None),
])
def test_sniff_names_the_format_the_first_bytes_announce(head, expected):
    assert pa.sniff(head) == expected


@pytest.mark.parametrize("data,expected", [
    (CUSTOM_HEAD, "custom"),
    (PLAIN_HEAD, "plain"),
    (tar_bytes(("toc.dat", CUSTOM_HEAD), ("3382.dat", b"1\ta\n\\.\n"), ("restore.sql", b"--\n")), "tar"),
])
def test_detect_format_of_crafted_files(tmp_path, data, expected):
    assert pa.detect_format(write(tmp_path / "archive", data)) == expected


@pytest.mark.parametrize("data,phrase", [
    (b"", "the archive is empty (0 bytes)"),
    (b"\x1f\x8b\x08\x00\x00\x00", "gzip-compressed data, not a pg_dump archive"),
    (b"SELECT 1;\n", "not a pg_dump archive: it starts with b'SELECT 1;"),
    (b"--\n-- PostgreSQL database cluster dump\n", "not a pg_dump archive"),
    (tar_bytes(("notes.txt", b"hello")), "a tar file without toc.dat"),
])
def test_detect_format_rejects_what_pg_dump_does_not_write(tmp_path, data, phrase):
    with pytest.raises(pa.ArchiveError) as error:
        pa.detect_format(write(tmp_path / "archive", data))
    assert phrase in str(error.value)


def test_detect_format_of_directories(tmp_path):
    assert pa.detect_format(directory_archive(tmp_path / "good")) == "directory"
    with pytest.raises(pa.ArchiveError, match="a directory without toc.dat"):
        pa.detect_format(directory_archive(tmp_path / "no-toc", {"3382.dat.gz": b"rows"}))
    with pytest.raises(pa.ArchiveError, match="toc.dat is not a pg_dump table of contents"):
        pa.detect_format(directory_archive(tmp_path / "bad-toc", {"toc.dat": b"garbage"}))


def test_detect_format_of_a_missing_archive(tmp_path):
    with pytest.raises(pa.ArchiveError, match="the archive does not exist"):
        pa.detect_format(str(tmp_path / "nothing.dump"))


@pytest.mark.parametrize("detected,expected,phrase", [
    ("plain", "auto",
     "plain SQL, which pg_restore cannot read, where a custom, directory or tar archive was expected"),
    ("plain", "custom", "plain SQL where a custom-format archive was expected"),
    ("tar", "custom", "a tar-format archive where a custom-format archive was expected"),
    ("custom", "directory", "a custom-format archive where a directory-format archive was expected"),
])
def test_an_unexpected_format_is_named(detected, expected, phrase):
    with pytest.raises(pa.ArchiveError) as error:
        pa.expect_format(detected, expected)
    assert str(error.value) == phrase


@pytest.mark.parametrize("detected,expected", [("custom", "auto"), ("tar", "auto"), ("directory", "directory")])
def test_an_expected_format_passes(detected, expected):
    pa.expect_format(detected, expected)


# -- digest and size ------------------------------------------------------------------------

def test_file_digest_is_its_sha256(tmp_path):
    data = CUSTOM_HEAD * 50000  # several read chunks
    path = write(tmp_path / "a.dump", data)
    assert pa.archive_digest(path) == hashlib.sha256(data).hexdigest()
    assert pa.archive_size(path) == len(data)


def test_directory_digest_is_the_sha256_of_its_sha256sum_lines_in_name_order(tmp_path):
    path = directory_archive(tmp_path / "d")
    lines = "".join("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name)
                    for name, data in sorted(DIRECTORY_FILES.items()))
    assert pa.archive_digest(path) == hashlib.sha256(lines.encode()).hexdigest()
    assert pa.archive_size(path) == len(CUSTOM_HEAD) + len(b"rows") + len(b"more rows")


def test_directory_digest_is_what_the_documented_shell_command_prints(tmp_path):
    path = directory_archive(tmp_path / "d")
    command = "cd %s && find . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum" % path
    assert subprocess.check_output(["bash", "-c", command], text=True).split()[0] == pa.archive_digest(path)


def test_directory_digest_changes_with_any_file_and_not_with_creation_order(tmp_path):
    first = pa.archive_digest(directory_archive(tmp_path / "a"))
    reordered = directory_archive(tmp_path / "b", {"3384.dat.gz": b"more rows", "3382.dat.gz": b"rows",
                                                   "toc.dat": CUSTOM_HEAD})
    assert pa.archive_digest(reordered) == first
    changed = directory_archive(tmp_path / "c", {"toc.dat": CUSTOM_HEAD, "3382.dat.gz": b"rowz",
                                                 "3384.dat.gz": b"more rows"})
    renamed = directory_archive(tmp_path / "e", {"toc.dat": CUSTOM_HEAD, "3383.dat.gz": b"rows",
                                                 "3384.dat.gz": b"more rows"})
    missing = directory_archive(tmp_path / "f", {"toc.dat": CUSTOM_HEAD, "3382.dat.gz": b"rows"})
    assert len({first, pa.archive_digest(changed), pa.archive_digest(renamed), pa.archive_digest(missing)}) == 4


# -- table of contents ----------------------------------------------------------------------

def test_toc_header_of_a_real_listing():
    header = pa.parse_toc(TOC_SAMPLE).header
    assert header["dbname"] == "airflow"
    assert header["format"] == "CUSTOM"
    assert header["toc entries"] == "31"
    assert header["created"] == "2026-11-28 18:30:11 UTC"
    assert header["dumped by pg_dump version"].startswith("15.18")


def test_toc_tables_are_the_table_data_entries_with_their_full_names():
    toc = pa.parse_toc(TOC_SAMPLE)
    assert len(toc.entries) == 27
    assert pa.toc_tables(toc) == ["audit.log event", "public.Mixed Case", "public.dag", "public.dag_run",
                                  "public.part1", "public.u"]


def test_toc_entries_keep_multi_word_descriptions():
    descs = {entry.desc for entry in pa.parse_toc(TOC_SAMPLE).entries}
    assert {"FK CONSTRAINT", "SEQUENCE OWNED BY", "MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "TABLE ATTACH",
            "SEQUENCE SET", "TABLE DATA", "TABLE", "SCHEMA"} <= descs
    fk = next(e for e in pa.parse_toc(TOC_SAMPLE).entries if e.desc == "FK CONSTRAINT")
    assert fk == pa.TocEntry(3237, "FK CONSTRAINT", "public", "dag_run dag_run_dag_id_fkey", "postgres")


def test_an_empty_listing_has_no_tables():
    assert pa.toc_tables(pa.parse_toc("")) == []


@pytest.mark.parametrize("stderr,expected", [
    ("pg_restore: error: could not read from input file: end of file\n",
     "could not read from input file: end of file"),
    ("pg_restore: while PROCESSING TOC:\npg_restore: from TOC entry 215; 1259 16385 TABLE dag postgres\n"
     "pg_restore: error: could not execute query: ERROR:  relation \"dag\" already exists\n"
     "Command was: CREATE TABLE public.dag (\n    dag_id text NOT NULL\n);\n",
     "could not execute query: ERROR: relation \"dag\" already exists"),
    ("pg_restore: error: connection to server failed\npg_restore: detail: is the server running?\n",
     "connection to server failed / is the server running?"),
    ("something odd\nlast words\n", "last words"),
    ("", "exit code 1"),
])
def test_pg_restore_error_is_one_line_without_the_sql(stderr, expected):
    assert pa.pg_restore_error(stderr, 1) == expected


def test_restore_command_has_no_connection_secrets_and_no_jobs_for_tar():
    argv = pa.restore_command("/bin/pg_restore", "/b/a.tar", "tar", "edp_verify_x", jobs=4)
    assert argv == ["/bin/pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--format=tar",
                    "--dbname=edp_verify_x", "/b/a.tar"]
    assert "--jobs=4" in pa.restore_command("pg_restore", "/b/a.dump", "custom", "x", jobs=4)


def test_the_password_goes_to_the_environment_and_the_socket_wins_over_the_host():
    params = {"login_host": "db", "login_port": 5433, "login_user": "admin", "login_password": "s3cret",
              "login_unix_socket": None}
    assert pa.libpq_env(params) == {"PGHOST": "db", "PGPORT": "5433", "PGUSER": "admin", "PGPASSWORD": "s3cret"}
    socket = dict(params, login_unix_socket="/run/postgresql", login_password=None)
    assert pa.connect_kwargs(socket, "airflow") == {"host": "/run/postgresql", "port": 5433, "user": "admin",
                                                    "dbname": "airflow"}


# -- age ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,seconds", [
    ("26h", 93600), ("90m", 5400), ("2d", 172800), ("1d12h", 129600), ("45s", 45), ("1w", 604800),
    (3600, 3600), ("3600", 3600), (" 26H ", 93600), (0, 0),
])
def test_parse_age(value, seconds):
    assert pa.parse_age(value) == seconds


@pytest.mark.parametrize("value", ["", "-1", "1.5h", "h", "26x", "26 h", "1d-2h", -5, True, None, 1.5])
def test_parse_age_rejects_what_is_not_a_duration(value):
    with pytest.raises(ValueError, match="max_age"):
        pa.parse_age(value)


@pytest.mark.parametrize("seconds,text", [(59, "59s"), (600, "10m"), (3600, "1h"), (5400, "1h 30m"),
                                          (93600, "1d 2h"), (259200, "3d")])
def test_format_duration(seconds, text):
    assert pa.format_duration(seconds) == text


def test_age_is_taken_from_the_creation_time():
    now = datetime(2026, 11, 29, 19, 0, tzinfo=timezone.utc)
    assert pa.age_seconds("2026-11-28T17:00:00Z", now) == 26 * 3600
    assert pa.age_seconds("2026-11-28T18:00:00+01:00", now) == 26 * 3600
    assert pa.utc_now_text(now) == "2026-11-29T19:00:00Z"


# -- manifest -------------------------------------------------------------------------------

def test_a_valid_manifest_has_no_problems():
    assert pa.validate_manifest(valid_manifest()) == []


@pytest.mark.parametrize("manifest,problem", [
    ([], "not a JSON object"),
    ({k: v for k, v in valid_manifest().items() if k != "sha256"}, "sha256 is missing"),
    (valid_manifest(size="12345"), "size must be a number"),
    (valid_manifest(size=True), "size must be a number"),
    (valid_manifest(tables=[]), "tables must be a mapping"),
    (valid_manifest(format_version=2), "format_version 2 is not supported (this reads 1)"),
    (valid_manifest(format="plain"), "format 'plain' is not one of custom, directory, tar"),
    (valid_manifest(sha256="AB" * 32), "sha256 is not 64 lower-case hex digits"),
    (valid_manifest(created="yesterday"), "created 'yesterday' is not an ISO 8601 time with a zone"),
    (valid_manifest(created="2026-11-28T17:00:00"), "is not an ISO 8601 time with a zone"),
    (valid_manifest(tables={"public.dag": -1, "public.x": "7"}), "bad: public.dag, public.x"),
    (valid_manifest(size=-1), "size is negative"),
])
def test_manifest_problems_are_named(manifest, problem):
    problems = pa.validate_manifest(manifest)
    assert any(problem in p for p in problems), problems


def test_read_manifest_names_the_file_and_every_problem(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(pa.ArchiveError, match="no manifest at .*missing.json"):
        pa.read_manifest(str(missing))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(pa.ArchiveError, match="broken.json is not readable JSON"):
        pa.read_manifest(str(broken))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(valid_manifest(format_version=2, sha256="x")))
    with pytest.raises(pa.ArchiveError, match="bad.json is invalid: format_version 2 .*; sha256 is not"):
        pa.read_manifest(str(bad))


def test_a_built_manifest_is_written_and_read_back(tmp_path):
    archive = write(tmp_path / "airflow-20261128T170000Z.dump", CUSTOM_HEAD)
    manifest = pa.build_manifest(archive, "airflow", {"public.dag_run": 40, "public.dag": 12}, "15.18",
                                 "2026-11-28T17:00:00Z")
    assert manifest == {"format_version": 1, "database": "airflow", "created": "2026-11-28T17:00:00Z",
                        "archive": "airflow-20261128T170000Z.dump", "format": "custom", "size": len(CUSTOM_HEAD),
                        "sha256": hashlib.sha256(CUSTOM_HEAD).hexdigest(), "server_version": "15.18",
                        "tables": {"public.dag": 12, "public.dag_run": 40}}
    path = pa.write_manifest(manifest, pa.manifest_path(archive))
    assert path == archive + ".manifest.json"
    assert pa.read_manifest(path) == manifest
    assert not list(tmp_path.glob(".manifest-*")), "the temporary file of the atomic write is left"


def test_a_directory_archive_manifest_sits_beside_the_directory(tmp_path):
    archive = directory_archive(tmp_path / "airflow.dir")
    assert pa.manifest_path(archive + "/") == str(tmp_path / "airflow.dir.manifest.json")
    manifest = pa.build_manifest(archive + "/", "airflow", {}, "15.18")
    assert manifest["archive"] == "airflow.dir" and manifest["format"] == "directory"
    assert pa.validate_manifest(manifest) == []


def test_no_manifest_is_built_for_plain_sql(tmp_path):
    with pytest.raises(pa.ArchiveError, match="plain SQL"):
        pa.build_manifest(write(tmp_path / "a.sql", PLAIN_HEAD), "airflow", {}, "15.18")


def test_row_count_differences_name_the_table_and_both_counts():
    assert pa.compare_row_counts({"public.dag": 12}, {"public.dag": 12}) == []
    assert pa.compare_row_counts({"public.dag": 12, "public.x": 1}, {"public.dag": 11, "public.y": 2}) == [
        "row count of public.dag is 11 in the restore, 12 in the manifest",
        "public.x is in the manifest (1 rows) but not in the restore",
        "public.y was restored (2 rows) but is not in the manifest",
    ]


def test_scratch_names_are_unique_valid_identifiers():
    names = {pa.scratch_name("edp_verify") for _ in range(50)}
    assert len(names) == 50
    assert all(name.startswith("edp_verify_") and len(name) <= 63 for name in names)
    assert len(pa.scratch_name("p" * 60)) == 63


# -- the module's documentation -------------------------------------------------------------

def test_module_documents_its_secrets_and_results():
    # (documented options against the spec: tests/static, for every module)
    spec = pg_dump_verify.ARGUMENT_SPEC
    returned = yaml.safe_load(pg_dump_verify.RETURN)
    assert spec["login_password"]["no_log"] is True
    assert {"format", "size", "sha256", "tables", "rows", "row_counts", "age_seconds", "duration_seconds",
            "restored", "database", "checks"} <= set(returned)
