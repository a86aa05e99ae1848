"""A real, throwaway PostgreSQL server for tests (the OS packages' binaries).

PostgreSQL refuses to run as root, so when the tests run as root the cluster is created
and started as the ``postgres`` user (in a folder that user owns). The server listens on
127.0.0.1 on a free port and on a Unix socket in its own folder; the superuser has a
random password and the server accepts only scram-sha-256 over TCP.
"""

from __future__ import annotations

import glob
import os
import pathlib
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile


def pg_bindir() -> pathlib.Path:
    """The newest installed PostgreSQL server binaries (Debian layout), or pg_config's."""
    override = os.environ.get("EDP_PG_BINDIR")
    if override:
        return pathlib.Path(override)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return pathlib.Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        return pathlib.Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
    raise RuntimeError("no PostgreSQL server binaries found (install postgresql-15)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    """``with PgServer() as pg: pg.psql("select 1")``; ``pg.dsn`` for psycopg2."""

    def __init__(self, settings: dict | None = None):
        self.bindir = pg_bindir()
        self.port = free_port()
        self.superuser = "postgres"
        self.password = secrets.token_urlsafe(18)
        self.settings = settings or {}
        self.as_root = os.geteuid() == 0
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="edp-pg-"))
        self.datadir = self.root / "data"
        self.socketdir = self.root / "sock"

    # -- process control -----------------------------------------------------------
    def _run(self, args, **kwargs):
        if self.as_root:
            args = ["runuser", "-u", "postgres", "--"] + [str(a) for a in args]
        return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kwargs)

    def start(self):
        if self.as_root:
            os.chmod(self.root, 0o755)
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self.as_root:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        os.chmod(pwfile, 0o600)
        self._run([self.bindir / "initdb", "-D", self.datadir, "-U", self.superuser, "--pwfile", pwfile,
                   "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
        pwfile.unlink()
        self._run(["mkdir", "-p", self.socketdir])
        options = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (self.port, self.socketdir)
        for name, value in self.settings.items():
            options += " -c %s=%s" % (name, value)
        self._run([self.bindir / "pg_ctl", "-D", self.datadir, "-l", self.root / "server.log", "-w",
                   "-o", options, "start"])
        return self

    def stop(self):
        if self.datadir.exists():
            try:
                self._run([self.bindir / "pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"])
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- clients --------------------------------------------------------------------
    @property
    def env(self):
        """Environment for libpq clients (psql, pg_dump, pg_restore) as the superuser."""
        return dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER=self.superuser,
                    PGPASSWORD=self.password, PGDATABASE="postgres")

    def dsn(self, dbname="postgres", user=None, password=None):
        return "host=127.0.0.1 port=%d dbname=%s user=%s password=%s" % (
            self.port, dbname, user or self.superuser, password or self.password)

    def psql(self, sql, dbname="postgres"):
        """Run SQL as the superuser and return psql's unaligned, tuples-only output."""
        proc = subprocess.run([str(self.bindir / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", dbname,
                               "-c", sql], capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise RuntimeError("psql failed: %s" % proc.stderr.strip())
        return proc.stdout.strip()
