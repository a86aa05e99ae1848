"""Samples the process table while something runs, to prove later that no secret was in it.

``with ProcessSampler() as sampler: run_the_bring_up()``, then
``sampler.findings({"admin-password": secret, ...}, owners={...})``.

Every ``interval`` seconds a thread reads /proc/<pid>/cmdline (what any user of the host can
read: the process table) and /proc/<pid>/environ (readable by the process's own user and root)
of every process, and keeps each distinct one with the process's uid and name. The secrets are
only known after the run (it generates them), so the samples are searched afterwards. A process
that lives shorter than the interval can be missed: the sampler reports how many passes it made
and the shortest gap between two, for the test's message.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # gone, or not ours to read
        return None


def _uid(pid: str) -> int | None:
    status = _read("/proc/%s/status" % pid)
    if status is None:
        return None
    for line in status.decode(errors="replace").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # the real uid
    return None


class ProcessSampler:
    """Keeps every distinct (pid, uid, name, cmdline, environ) seen while it runs."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.samples: dict[str, dict] = {}
        self.passes = 0
        self.longest_pass = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)
        self._me = str(os.getpid())

    def _sample_once(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == self._me:
                continue
            cmdline = _read("/proc/%s/cmdline" % pid)
            if not cmdline:  # kernel threads, or gone
                continue
            environ = _read("/proc/%s/environ" % pid) or b""
            key = hashlib.sha1(pid.encode() + b"\1" + cmdline + b"\1" + environ).hexdigest()
            if key in self.samples:
                continue
            comm = (_read("/proc/%s/comm" % pid) or b"?").decode(errors="replace").strip()
            self.samples[key] = {"pid": int(pid), "uid": _uid(pid), "name": comm,
                                 "cmdline": cmdline, "environ": environ}

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            self._sample_once()
            self.passes += 1
            self.longest_pass = max(self.longest_pass, time.monotonic() - started)
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def findings(self, secrets: dict[str, str], env_allowed_uids: dict[str, set[int]] | None = None) -> list[str]:
        """One line per process that held a secret where it must not be: in its command line
        (any user can read it), or in its environment unless its uid is one of
        ``env_allowed_uids[name]`` (the users the secret belongs to; none by default).
        The lines name the secret, never show it."""
        env_allowed_uids = env_allowed_uids or {}
        found = []
        for sample in self.samples.values():
            for name, secret in secrets.items():
                if not secret:
                    continue
                needle = secret.encode()
                where = []
                if needle in sample["cmdline"]:
                    where.append("command line")
                if needle in sample["environ"] and sample["uid"] not in env_allowed_uids.get(name, set()):
                    where.append("environment")
                if where:
                    command = sample["cmdline"].replace(b"\0", b" ").replace(needle, b"********")
                    found.append("%s in the %s of pid %d (uid %s, %s): %s" % (
                        name, " and ".join(where), sample["pid"], sample["uid"], sample["name"],
                        command.decode(errors="replace")[:200]))
        return sorted(set(found))

    def summary(self) -> str:
        return "%d passes of the process table, %d distinct processes, the longest pass %.0f ms" % (
            self.passes, len(self.samples), self.longest_pass * 1000)
