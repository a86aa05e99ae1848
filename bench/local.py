#!/usr/bin/env python3
"""Bring-up time of the local target (site.yml -i inventories/local), as a user lives it.

Three figures, each in a scratch root on free ports:
  * bring-up with the virtualenvs already built (what a second tenant, or a rerun after
    `make teardown`, costs): PostgreSQL's initdb, Airflow's migration, starting everything;
  * a no-op rerun (the aim of the local-operations issue: under 30 s);
  * with --from-nothing, the first bring-up with fresh virtualenvs too (Airflow's and Spark's
    builds, pyspark's wheel), which is what `make local` costs on a new machine.
Also the resident memory of every process of the tenant once it is up. Run as root.

Usage: bench/local.py [--from-nothing] [--keep] [--profile]   (prints the figures; nothing is asserted)
"""

import argparse
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
BUILD = REPO / "build"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(root, extra, playbook="site.yml", profile=False):
    env = dict(os.environ, EDP_LOCAL_ROOT=str(root), ANSIBLE_NOCOLOR="1")
    if profile:  # the slowest tasks, printed after the recap
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="25")
    cmd = [str(BIN / "ansible-playbook"), str(REPO / playbook), "-i", str(REPO / "inventories" / "local"),
           "-e", json.dumps(extra)]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s" % (playbook, proc.stdout[-3000:]))
    recap = [line for line in proc.stdout.splitlines() if line.startswith("demo ")]
    if profile:
        print("slowest tasks of %s:" % playbook)
        print("\n".join(line for line in proc.stdout.splitlines() if line.rstrip().endswith("s") and " -" in line
                        and "=" not in line)[-4000:])
    return elapsed, recap[-1] if recap else ""


def memory_of(root):
    """Resident memory (MB) of the processes whose command line names root, and their children."""
    table = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = pathlib.Path("/proc/%s/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode()
            stat = pathlib.Path("/proc/%s/stat" % pid).read_text().rpartition(")")[2].split()
            rss = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
        table[int(pid)] = (int(stat[1]), cmdline, rss)
    ours = {pid for pid, (_, cmdline, _) in table.items() if str(root) in cmdline}
    while True:
        more = {pid for pid, (ppid, _, _) in table.items() if ppid in ours} - ours
        if not more:
            break
        ours |= more
    return sum(table[pid][2] for pid in ours) / 2**20, len(ours)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-nothing", action="store_true", help="also build fresh virtualenvs")
    parser.add_argument("--keep", action="store_true", help="leave the platform running")
    parser.add_argument("--profile", action="store_true", help="print the no-op rerun's slowest tasks")
    args = parser.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="edp-bench-local-", dir="/tmp"))
    os.chmod(root, 0o755)
    extra = {"postgres_port": free_port(), "airflow_api_port": free_port(), "spark_history_port": free_port()}
    if not args.from_nothing:
        # The virtualenvs the tests build (make test), as a machine that already has them.
        extra.update(airflow_local_venv=str(BUILD / "airflow-venv"), spark_local_venv=str(BUILD / "spark-venv"),
                     spark_local_wheels=str(BUILD / "spark-wheels"))
    rows = []
    try:
        first, recap = run(root, extra)
        rows.append(("bring-up" + (" from nothing" if args.from_nothing else ", virtualenvs built"), first, recap))
        rss, count = memory_of(root)
        rerun, recap = run(root, extra, profile=args.profile)
        rows.append(("no-op rerun", rerun, recap))
        status, recap = run(root, extra, "playbooks/status.yml")
        rows.append(("make status", status, recap))
    finally:
        if not args.keep:
            subprocess.run([str(BIN / "ansible-playbook"), str(REPO / "playbooks" / "teardown.yml"), "-i",
                            str(REPO / "inventories" / "local"), "-e", json.dumps(dict(extra, teardown_confirm="yes"))],
                           env=dict(os.environ, EDP_LOCAL_ROOT=str(root)), capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
    for name, seconds, recap in rows:
        print("%-40s %7.1f s   %s" % (name, seconds, recap.split(":", 1)[-1].strip()))
    print("%-40s %7.0f MB  (%d processes)" % ("memory once up", rss, count))


if __name__ == "__main__":
    main()
