#!/usr/bin/env python3
"""Converge time of site.yml against the API emulator beside `kubectl apply` of the same objects.

For each tenant count (hosts of a generated copy of the dev inventory) and each per-request
latency of the emulator (0 ms: the emulator on this machine; 5 ms: a cluster in the same
region, every request delayed by that much before it is handled):
  * site.yml first run and no-op rerun: wall time, time per tenant, read and write requests,
    and the peak memory (RSS summed over the process tree: ansible-playbook and its forks);
  * the same objects rendered by site.yml (render mode), applied with one `kubectl apply -f FILE...`
    to a fresh emulator: first run and rerun, same figures;
  * the ratio ansible/kubectl.
The compiled-template cache of the apply path is warm (the untimed render mode run fills it), as
on a controller that has run site.yml before; a controller's very first run compiles every
template once more.
Then the goals (design.md, issue #16), each met or not, from the figures above:
  0 ms: within 5x kubectl for one tenant and 3x for twenty, first run and rerun;
  5 ms: within 1x kubectl at twenty tenants and more;
  100 tenants: time per tenant no worse than at 20, controller memory under 1.5 GB;
  zero writes on every no-op rerun.

Usage: bench/converge.py [--tenants 1 5 20 100] [--latency-ms 0 5] [--repeat 3]
(prints tables; nothing is asserted)
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "emulator"))

from kube_emulator import Emulator, default_crd_dir  # noqa: E402

CRDS = default_crd_dir()  # tests/crds, or $EDP_CRD_DIR
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def inventory(folder, tenants):
    """A copy of the dev inventory with `tenants` hosts and no vault (a throwaway password)."""
    shutil.copytree(REPO / "inventories" / "dev", folder)
    hosts = "".join("        t%02d:\n" % i for i in range(1, tenants + 1))
    (folder / "hosts.yml").write_text("---\nall:\n  children:\n    tenants:\n      hosts:\n" + hosts)
    return folder


def _tree_rss(root):
    """Resident memory (bytes) of process `root` and all its descendants, from /proc."""
    parents, rss = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid, "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(pid)] = int(fields[1])  # ppid
        rss[int(pid)] = int(fields[21]) * PAGE  # rss in pages
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree)


def timed(cmd, env):
    """``(seconds, peak RSS of the process tree)``; the tree is sampled every 50 ms."""
    peak, done = [0], threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(map(str, cmd)), out[-3000:], err[-3000:]))
    return elapsed, peak[0]


def counts(emu):
    reqs = emu.requests()
    writes = len(emu.writes())
    return len(reqs) - writes, writes


def measure(tool_cmd, work, env, repeat, latency_ms):
    """[(seconds, reads, writes, peak RSS) first run, (...) rerun]: median time over `repeat`
    fresh emulators, the largest peak."""
    firsts, reruns = [], []
    for _ in range(repeat):
        with Emulator(kube_version="1.31", crd_dirs=[str(CRDS)], latency_ms=latency_ms) as emu:
            kubeconfig = work / "kubeconfig"
            emu.write_kubeconfig(str(kubeconfig))
            run_env = dict(env, KUBECONFIG=str(kubeconfig), K8S_AUTH_KUBECONFIG=str(kubeconfig),
                           TMPDIR=tempfile.mkdtemp(dir=work), HOME=tempfile.mkdtemp(dir=work))
            emu.reset_requests()
            seconds, rss = timed(tool_cmd, run_env)
            firsts.append((seconds,) + counts(emu) + (rss,))
            emu.reset_requests()
            seconds, rss = timed(tool_cmd, run_env)
            reruns.append((seconds,) + counts(emu) + (rss,))

    def pick(runs):
        return statistics.median(r[0] for r in runs), runs[0][1], max(r[2] for r in runs), max(r[3] for r in runs)

    return pick(firsts), pick(reruns)


HEADER = "%-7s %-7s %-7s %-5s | %8s %6s %6s %6s %7s | %8s %6s %6s %7s | %6s" % (
    "tenants", "latency", "objects", "run", "ansible", "s/ten", "reads", "writes", "peak MB",
    "kubectl", "reads", "writes", "peak MB", "ratio")


def row(tenants, latency, objects, label, a, k):
    return "%-7d %5gms %-7d %-5s | %7.2fs %6.3f %6d %6d %7.0f | %7.2fs %6d %6d %7.0f | %5.1fx" % (
        tenants, latency, objects, label, a[0], a[0] / tenants, a[1], a[2], a[3] / MB,
        k[0], k[1], k[2], k[3] / MB, a[0] / k[0])


def goals(results):
    """``[(goal, measured, met)]`` for the goals whose figures were measured in this run."""
    found = []

    def ratio(tenants, latency, run):
        a, k = results[(tenants, latency)][run]
        return a[0] / k[0]

    for tenants, limit in ((1, 5), (20, 3)):
        for run in ("first", "rerun"):
            if (tenants, 0) in results:
                r = ratio(tenants, 0, run)
                found.append(("0 ms, %d tenant(s), %s: <= %dx kubectl" % (tenants, run, limit), "%.1fx" % r, r <= limit))
    for (tenants, latency) in sorted(results):
        if latency == 5 and tenants >= 20:
            for run in ("first", "rerun"):
                r = ratio(tenants, latency, run)
                found.append(("5 ms, %d tenants, %s: <= 1x kubectl" % (tenants, run), "%.1fx" % r, r <= 1))
    for latency in sorted({lat for _, lat in results}):
        if (100, latency) in results and (20, latency) in results:
            for run in ("first", "rerun"):
                per100 = results[(100, latency)][run][0][0] / 100
                per20 = results[(20, latency)][run][0][0] / 20
                found.append(("%g ms, %s: s/tenant at 100 <= at 20" % (latency, run),
                              "%.3f vs %.3f" % (per100, per20), per100 <= per20))
            peak = max(results[(100, latency)][run][0][3] for run in ("first", "rerun"))
            found.append(("%g ms, 100 tenants: controller memory < 1.5 GB" % latency,
                          "%.0f MB" % (peak / MB), peak < 1.5 * 1024 * MB))
    reruns = [results[key]["rerun"][0][2] for key in results]
    found.append(("zero writes on every no-op rerun", "%d writes at most" % max(reruns), max(reruns) == 0))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 5, 20, 100])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 5],
                        help="per-request latency of the emulator, in milliseconds (each value is a run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        sys.exit("kubectl is not on PATH")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    secret = ["-e", "vault_edp_registry_password=bench-only-password"]
    results = {}
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="edp-bench-") as tmp:
        # The apply path's compiled templates (plugin_utils/compiled_templates.py), one folder for
        # every run as a user's TMPDIR is: the untimed render below fills it, so the runs measured
        # are those of a controller that has run site.yml before.
        cache = pathlib.Path(tmp) / "template-cache"
        cache.mkdir(mode=0o700)
        env["EDP_TEMPLATE_CACHE_DIR"] = str(cache)
        for tenants in args.tenants:
            work = pathlib.Path(tmp) / ("n%d" % tenants)
            work.mkdir()
            inv = inventory(work / "inventory", tenants)
            render = work / "render"
            timed([BIN / "ansible-playbook", "site.yml", "-i", inv, "-e", "edp_render_dir=%s" % render] + secret,
                  dict(env, TMPDIR=str(work)))
            # Every object file of the export (manifests, then Secrets), without the kustomizations:
            # one kubectl process for all tenants, as the fairest comparison.
            files = sorted(render.rglob("*.yaml"), key=lambda p: ("/secrets/" in str(p), str(p)))
            files = [str(p) for p in files if p.name != "kustomization.yaml"]
            objects = len(files)
            for latency in args.latency_ms:
                ans = measure([BIN / "ansible-playbook", "site.yml", "-i", inv] + secret, work, env, args.repeat,
                              latency)
                kub = measure([kubectl, "apply"] + [a for f in files for a in ("-f", f)], work, env, args.repeat,
                              latency)
                results[(tenants, latency)] = {"first": (ans[0], kub[0]), "rerun": (ans[1], kub[1])}
                for label, a, k in (("first", ans[0], kub[0]), ("rerun", ans[1], kub[1])):
                    print(row(tenants, latency, objects, label, a, k))
                sys.stdout.flush()
            shutil.rmtree(work)
    print()
    print("%-52s %-18s %s" % ("goal", "measured", "met"))
    for goal, measured, met in goals(results):
        print("%-52s %-18s %s" % (goal, measured, "yes" if met else "NO"))


if __name__ == "__main__":
    main()
