"""The local target brought up once for the tests that need it (tests/integration/test_local.py,
test_dr_local.py): site.yml -i inventories/local with a real PostgreSQL and a real Airflow, in a
scratch root, on free ports."""

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import tempfile
import urllib.request

import psycopg2

from conftest import Ansible
from lib.airflow_server import ensure_airflow_venv
from lib.pgserver import free_port, pg_bindir

BUILD = pathlib.Path(__file__).resolve().parents[2] / "build"
# The airflow role's airflow_local_user: every Airflow process of the platform runs as it.
AIRFLOW_USER = "airflow"
# The test platform's PgBouncer pool: fewer server connections than Airflow's four components' pools.
PGBOUNCER_POOL = 3


def uid_of(pid):
    """The real, effective, saved and file-system uids of a process (/proc/<pid>/status)."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("Uid:"):
                return tuple(int(n) for n in line.split()[1:5])
    raise RuntimeError("no Uid line for pid %d" % pid)


def revoke_run(user, python):
    """Take back what the airflow role grants ``user`` when a virtualenv's ``python``, or the
    interpreter behind it, sits below a folder closed to it (a checkout in a private temporary
    folder; pyenv's Pythons below /root, on the test machines): the ACL entries letting it pass
    through. Each session's bring-up grants them
    again, so the role's way is the one tested."""
    for folder in set(pathlib.Path(python).parents) | set(pathlib.Path(os.path.realpath(python)).parents):
        if not os.stat(folder).st_mode & 0o001 and shutil.which("setfacl"):
            subprocess.run(["setfacl", "-x", "u:%s" % user, str(folder)], capture_output=True)


def listening_addresses(port):
    """The local addresses with a socket listening on a TCP port (from /proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.rpartition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


# The loopback addresses as /proc/net/{tcp,udp}[6] write them: 127.0.0.0/8, ::1, ::ffff:127.x.x.x.
def _loopback(address):
    if len(address) == 8:
        return address.endswith("7F")  # 127.x.x.x, little-endian
    return address == "00000000000000000000000001000000" or (
        address.startswith("0000000000000000FFFF0000") and address.endswith("7F"))


def _process_tree(roots):
    """The pids of roots and of every process below them (from /proc/<pid>/stat)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    parents[int(entry)] = int(handle.read().rpartition(")")[2].split()[1])
            except OSError:
                continue
    found, todo = set(), [pid for pid in roots if pid in parents]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += [child for child, parent in parents.items() if parent == pid]
    return found


def processes_under(root):
    """The processes the platform started for the tenants below root: every process whose command
    line names root (supervisord, PostgreSQL, ...) and every process below those."""
    roots = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    if str(root).encode() in handle.read():
                        roots.append(int(entry))
            except OSError:
                continue
    return _process_tree(roots)


def _socket_owners(pids):
    """{socket inode: pid} of the sockets the processes hold open."""
    owners = {}
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], pid)
        except OSError:
            continue
    return owners


def _socket_rows(protocols):
    """(protocol, fields) of every line of /proc/net/<protocol>."""
    for protocol in protocols:
        with open("/proc/net/" + protocol) as lines:
            for line in list(lines)[1:]:
                yield protocol, line.split()


def listening_sockets(pids):
    """[(protocol, address, port, pid, command)] of every TCP socket listening and every UDP socket
    bound (from /proc/net/tcp, tcp6, udp, udp6) that one of pids holds."""
    owners = _socket_owners(pids)
    listening = {"tcp": "0A", "tcp6": "0A", "udp": "07", "udp6": "07"}
    found = []
    for protocol, fields in _socket_rows(listening):
        address, _, hex_port = fields[1].rpartition(":")
        if fields[3] == listening[protocol] and fields[9] in owners:
            pid = owners[fields[9]]
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append((protocol, address, int(hex_port, 16), pid, command[:160]))
    return found


def connected_ports(pids):
    """[(remote port, pid)] of every established TCP connection one of pids holds."""
    owners = _socket_owners(pids)
    return [(int(fields[2].rpartition(":")[2], 16), owners[fields[9]])
            for _, fields in _socket_rows(("tcp", "tcp6")) if fields[3] == "01" and fields[9] in owners]


def program_pids(supervisord_conf, prefix):
    """The pids of the supervisord programs whose names start with prefix, and of their children."""
    listed = subprocess.run(["supervisorctl", "-c", str(supervisord_conf), "status"], capture_output=True,
                            text=True).stdout.splitlines()
    roots = [int(line.split("pid ")[1].split(",")[0]) for line in listed
             if line.startswith(prefix) and "RUNNING" in line]
    return _process_tree(roots)


def not_on_loopback(sockets):
    """The sockets of listening_sockets() open beyond this host."""
    return [s for s in sockets if not _loopback(s[1])]


class LocalPlatform:
    """One local bring-up shared by every test that needs it (about a minute)."""

    def __init__(self, tmp_path):
        # PostgreSQL runs as postgres: its folders must be reachable, so not below pytest's 0700 tmp.
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="edp-local-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.home = self.root / "demo"
        self.port = free_port()
        self.airflow_port = free_port()
        self.spark_history_port = free_port()
        # The monitoring role's ports on 127.0.0.1 (postgres_exporter's is its own variable).
        self.monitoring_ports = {"prometheus": free_port(), "node_exporter": free_port(),
                                 "blackbox_exporter": free_port()}
        self.postgres_exporter_port = free_port()
        self.pgbouncer_port = free_port()
        self.ansible = Ansible(tmp_path)
        # Airflow's database password as an inventory would set it, with the characters that broke
        # a database URL built with it ('@', '/', ':') and a shell's quotes: every test of the
        # platform then runs Airflow with it.
        self.airflow_db_password = "p@ss/w:rd'\"$x-" + secrets.token_hex(8)
        # The dr role starts a cron daemon where none runs; the tests stop the one it started.
        self.cron_was_running = subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0
        # The pinned Airflow virtualenv the Airflow tests share (built once, about 80 s).
        self.venv = ensure_airflow_venv()

    def run(self, *args, playbook="site.yml", extra_vars=None, **kwargs):
        # Spark's virtualenv and pyspark wheel are built once into build/ by the spark role and
        # shared by later sessions, as the Airflow virtualenv is.
        fixed = {"postgres_port": self.port, "airflow_api_port": self.airflow_port,
                 "airflow_local_venv": str(self.venv), "spark_history_port": self.spark_history_port,
                 "spark_local_venv": str(BUILD / "spark-venv"), "spark_local_wheels": str(BUILD / "spark-wheels"),
                 # Short scrape and evaluation intervals and alert delays: test_monitoring_local.py
                 # waits for alerts to fire and resolve.
                 "monitoring_local_ports": self.monitoring_ports,
                 "monitoring_postgres_exporter_port": self.postgres_exporter_port,
                 "monitoring_scrape_interval": "2s", "monitoring_evaluation_interval": "2s",
                 "monitoring_alert_for": "2s", "postgres_airflow_password": self.airflow_db_password,
                 # PgBouncer with a pool smaller than what Airflow's components may open, so that
                 # test_pgbouncer_local.py sees it pool.
                 "postgres_pgbouncer_port": self.pgbouncer_port,
                 "postgres_pgbouncer_pool_size": PGBOUNCER_POOL}
        return self.ansible.playbook(playbook, "local", *args, vault=False,
                                     extra_vars=dict(fixed, **(extra_vars or {})),
                                     env={"EDP_LOCAL_ROOT": self.root}, **kwargs)

    def password(self, name):
        return (self.home / "config" / "secrets" / ("postgres-" + name)).read_text()

    def secret(self, name):
        return (self.home / "config" / "secrets" / name).read_text()

    def api(self, method, path, body=None, token=None, timeout=60):
        # Patient: in CI the other tiers share the two cores, and an answer then takes seconds.
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.airflow_port, path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers=dict({"Content-Type": "application/json"},
                                                  **({"Authorization": "Bearer " + token} if token else {})))
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")

    def connect(self, user="airflow", password=None, dbname="airflow"):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user=user, dbname=dbname,
                                password=self.password(user if user == "airflow" else "superuser")
                                if password is None else password, connect_timeout=5, **self.tls())

    def tls(self):
        """What every client of the server uses: TLS, verified against the tenant's authority."""
        return {"sslmode": "verify-full", "sslrootcert": str(self.home / "config" / "tls" / "postgres-ca.crt")}

    def sql(self, query, user="postgres", dbname="postgres"):
        with self.connect(user, dbname=dbname) as conn, conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else None

    def stop(self):
        supervisord = self.home / "config" / "airflow" / "supervisord.conf"
        if supervisord.exists():
            subprocess.run(["supervisorctl", "-c", str(supervisord), "shutdown"], capture_output=True)
        data = self.home / "data" / "postgres"
        if (data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(pg_bindir() / "pg_ctl"), "stop", "-m", "fast",
                            "-D", str(data)], capture_output=True)
        subprocess.run(["rm", "-rf", str(self.root)])
        revoke_run(AIRFLOW_USER, self.venv / "bin" / "python")
        self.remove_crontab_entries()
        if not self.cron_was_running:
            subprocess.run(["pkill", "-x", "cron"], capture_output=True)

    def remove_crontab_entries(self):
        """The dr role's crontab entries of this root (their names hold its backup folder)."""
        listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
        if listed.returncode != 0:
            return
        kept = [line for line in listed.stdout.splitlines() if str(self.root) not in line]
        subprocess.run(["crontab", "-"], input="".join(line + "\n" for line in kept), text=True, check=True)
