"""A real, throwaway Apache Airflow 3.3.2 for tests, on a PgServer.

``with PgServer() as pg, AirflowServer(pg) as airflow: airflow.url``

* Airflow runs from its own virtualenv, ``build/airflow-venv`` below the repository (or
  ``EDP_AIRFLOW_VENV``), built from ``requirements-airflow.txt`` on first use by
  :func:`ensure_airflow_venv` (about a minute; ``.ci/run`` or a conftest may call it first).
* The metadata database is a database and role of their own in the given PgServer.
* The FAB auth manager (``airflow users``, ``/auth/fab/v1``), an admin user with a random
  password, JWT secret, API secret key and Fernet key generated per run and pinned in the
  environment of every command, LocalExecutor with low parallelism.
* Only ``airflow api-server`` is started (one worker, 127.0.0.1, a free port); no scheduler.
  ``stop()`` ends its whole process group.
* ``webserver_config``: the FAB auth manager's configuration file (``AIRFLOW__FAB__CONFIG_FILE``),
  such as the airflow role renders for ``airflow_auth`` ldap or oidc; its secrets in ``extra_env``.
  ``port`` picks the port beforehand (an OpenID Connect provider must know the redirect URL).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements-airflow.txt"
AIRFLOW_VERSION = "3.3.2"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# The airflow role's script that makes the first admin (plain Python: no Jinja in it).
CREATE_ADMIN = REPO / "roles" / "airflow" / "templates" / "create-admin.py.j2"


def requirements_digest() -> str:
    """The digest in the stamp of a finished build, as the airflow role names it too."""
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]


def airflow_venv_path() -> pathlib.Path:
    """$EDP_AIRFLOW_VENV; else the virtualenv `make local` built for a tenant of this machine
    when its pins are these (the tests only run it); else build/airflow-venv."""
    if os.environ.get("EDP_AIRFLOW_VENV"):
        return pathlib.Path(os.environ["EDP_AIRFLOW_VENV"])
    local_root = pathlib.Path(os.environ.get("EDP_LOCAL_ROOT") or "/var/lib/edp")
    for stamp in sorted(local_root.glob("*/venv/airflow/.installed-" + requirements_digest())):
        return stamp.parent
    return REPO / "build" / "airflow-venv"


def _find_python() -> str:
    """A Python >= 3.12, by the repository's own finder (honours $PYTHON)."""
    return subprocess.run([str(REPO / "scripts" / "find-python")], capture_output=True, text=True,
                          check=True).stdout.strip()


def ensure_airflow_venv(venv: pathlib.Path | None = None) -> pathlib.Path:
    """The Airflow virtualenv, built from requirements-airflow.txt unless it is up to date.

    A stamp file named after the pin file's digest marks a finished build, so a changed pin
    file or an interrupted build is rebuilt from scratch. A lock keeps concurrent callers
    from building it twice.
    """
    venv = pathlib.Path(venv or airflow_venv_path())
    stamp = venv / (".installed-" + requirements_digest())
    if stamp.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / (venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        log = venv.parent / (venv.name + ".build.log")
        steps = [
            [_find_python(), "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             "--no-input", "-r", str(REQUIREMENTS)],
        ]
        with open(log, "w") as out:
            for step in steps:
                proc = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=1800)
                if proc.returncode != 0:
                    raise RuntimeError("building the Airflow virtualenv failed (%s); the end of %s:\n%s"
                                       % (" ".join(step[:3]), log, _tail(log)))
        stamp.touch()
    return venv


def _tail(path, lines=40) -> str:
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowServer:
    """Airflow's api-server on a fresh metadata database in ``pg`` (a started PgServer)."""

    def __init__(self, pg, admin_username: str = "admin", startup_timeout: float = 180,
                 extra_env: dict | None = None, webserver_config: str | os.PathLike | None = None,
                 port: int | None = None):
        self.pg = pg
        self.admin_username = admin_username
        self.admin_password = "adm-" + secrets.token_urlsafe(18)
        self.startup_timeout = startup_timeout
        self.extra_env = extra_env or {}
        self.webserver_config = webserver_config
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        suffix = secrets.token_hex(4)
        self.db_name = self.db_user = "airflow_" + suffix
        self.db_password = secrets.token_urlsafe(18)
        self.home = None
        self.venv = None
        self.process = None
        self.log_path = None

    # -- environment ----------------------------------------------------------------
    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        bindir = self.venv / "bin"
        env.update({
            "PATH": "%s:%s" % (bindir, os.environ.get("PATH", "")),
            "VIRTUAL_ENV": str(self.venv),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
            "AIRFLOW__CORE__FERNET_KEY": self._keys["fernet"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": self.url + "/execution/",
            "AIRFLOW__API__SECRET_KEY": self._keys["secret"],
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._keys["jwt"],
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://%s:%s@127.0.0.1:%d/%s" % (
                self.db_user, self.db_password, self.pg.port, self.db_name),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        })
        if self.webserver_config:
            env["AIRFLOW__FAB__CONFIG_FILE"] = str(self.webserver_config)
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def _airflow(self, *args, timeout=300):
        """Run an ``airflow`` command; fail with its output (never the command line: it may hold a password)."""
        proc = subprocess.run([str(self.venv / "bin" / "airflow")] + list(args), capture_output=True,
                              text=True, env=self.environment(), cwd=self.home, timeout=timeout)
        if proc.returncode != 0:
            out = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise RuntimeError("airflow %s failed (rc %d):\n%s" % (args[0], proc.returncode, out))
        return proc.stdout

    # -- lifecycle ------------------------------------------------------------------
    def start(self):
        self.venv = ensure_airflow_venv()
        self._keys = {
            "fernet": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "secret": secrets.token_urlsafe(32),
            "jwt": secrets.token_urlsafe(32),
        }
        self.home = pathlib.Path(tempfile.mkdtemp(prefix="edp-airflow-"))
        (self.home / "dags").mkdir()
        self.pg.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (self.db_user, self.db_password))
        self.pg.psql("CREATE DATABASE %s OWNER %s" % (self.db_name, self.db_user))
        try:
            self.timings = {}
            started = time.monotonic()
            self._airflow("db", "migrate")
            self.timings["db_migrate"] = time.monotonic() - started
            self.create_user(self.admin_username, self.admin_password, "Admin")
            self.timings["users_create"] = time.monotonic() - started - self.timings["db_migrate"]
            serving = time.monotonic()
            self.log_path = self.home / "api-server.log"
            with open(self.log_path, "w") as log:
                self.process = subprocess.Popen(
                    [str(self.venv / "bin" / "airflow"), "api-server", "--host", "127.0.0.1",
                     "--port", str(self.port), "--workers", "1"],
                    stdout=log, stderr=subprocess.STDOUT, env=self.environment(), cwd=self.home,
                    start_new_session=True)
            self._wait_healthy()
            self.timings["api_server"] = time.monotonic() - serving
            self.timings["total"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self):
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("airflow api-server exited with rc %s before it was healthy; the end of its log:\n%s"
                                   % (self.process.returncode, _tail(self.log_path)))
            try:
                with urllib.request.urlopen(self.url + "/api/v2/monitor/health", timeout=5) as resp:
                    health = json.load(resp)
                if health.get("metadatabase", {}).get("status") == "healthy":
                    return
                last = "health: %s" % health
            except (OSError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError("airflow api-server at %s not healthy after %d s (%s); the end of its log:\n%s"
                           % (self.url, self.startup_timeout, last, _tail(self.log_path)))

    def stop(self):
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Reap workers that outlived the master (same process group).
        if self.process:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        with contextlib.suppress(Exception):
            self.pg.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db_name)
            self.pg.psql("DROP ROLE IF EXISTS %s" % self.db_user)
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers for tests ----------------------------------------------------------
    def create_user(self, username, password, role, email=None):
        """A FAB user made as the airflow role makes its first admin: the role's create-admin
        script (roles/airflow/templates/create-admin.py.j2), the password on its standard input
        (``airflow users create`` would show it in the process table). Returns its output."""
        proc = subprocess.run([str(self.venv / "bin" / "python"), str(CREATE_ADMIN), "--username", username,
                               "--role", role, "--firstname", username, "--lastname", "Test",
                               "--email", email or "%s@example.com" % username],
                              input=password + "\n", capture_output=True, text=True, cwd=self.home, timeout=300,
                              # The database only, as the admin Job has (admin-job.yaml.j2).
                              env={k: v for k, v in self.environment().items() if k not in (
                                  "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")})
        if proc.returncode != 0:
            out = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise RuntimeError("create-admin %s failed (rc %d):\n%s" % (username, proc.returncode, out))
        return proc.stdout.strip().splitlines()[-1]

    def request(self, method, path, body=None, token=None):
        """(status, decoded JSON or text) of a request to the api-server."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def token(self, username=None, password=None):
        """A JWT for the user (the admin by default), or None when the login is refused."""
        status, body = self.request("POST", "/auth/token", {
            "username": username or self.admin_username,
            "password": password if password is not None else self.admin_password})
        return body["access_token"] if status in (200, 201) else None

    def get_user(self, username):
        """The user as the API shows it, or None."""
        status, body = self.request("GET", "/auth/fab/v1/users/%s" % username, token=self.token())
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError("GET user %s: %s %s" % (username, status, body))
        return body
