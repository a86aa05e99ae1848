#!/usr/bin/env python3
"""Converge time of site.yml against the API emulator beside `kubectl apply` of the same objects.

For 1, 5 and 20 tenants (hosts of a generated copy of the dev inventory):
  * site.yml first run and no-op rerun: wall time, read and write requests;
  * the same objects rendered by site.yml (render mode), applied with one `kubectl apply -f FILE...`
    to a fresh emulator: first run and rerun, same figures;
  * the ratios ansible/kubectl. The aim (design.md): within 5x for one tenant, 3x for twenty,
    and zero writes on a no-op rerun.

Usage: bench/converge.py [--tenants 1 5 20] [--repeat 3]   (prints a table; nothing is asserted)
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "emulator"))

from kube_emulator import Emulator, default_crd_dir  # noqa: E402

CRDS = default_crd_dir()  # tests/crds, or $EDP_CRD_DIR


def inventory(folder, tenants):
    """A copy of the dev inventory with `tenants` hosts and no vault (a throwaway password)."""
    shutil.copytree(REPO / "inventories" / "dev", folder)
    hosts = "".join("        t%02d:\n" % i for i in range(1, tenants + 1))
    (folder / "hosts.yml").write_text("---\nall:\n  children:\n    tenants:\n      hosts:\n" + hosts)
    return folder


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(map(str, cmd)), proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def counts(emu):
    reqs = emu.requests()
    writes = len(emu.writes())
    return len(reqs) - writes, writes


def measure(tool_cmd, work, env, repeat):
    """[(seconds, reads, writes) first run, (...) rerun] as medians over `repeat` fresh emulators."""
    firsts, reruns = [], []
    for _ in range(repeat):
        with Emulator(kube_version="1.31", crd_dirs=[str(CRDS)]) as emu:
            kubeconfig = work / "kubeconfig"
            emu.write_kubeconfig(str(kubeconfig))
            run_env = dict(env, KUBECONFIG=str(kubeconfig), K8S_AUTH_KUBECONFIG=str(kubeconfig),
                           TMPDIR=tempfile.mkdtemp(dir=work))
            emu.reset_requests()
            seconds = timed(tool_cmd, run_env)
            firsts.append((seconds,) + counts(emu))
            emu.reset_requests()
            seconds = timed(tool_cmd, run_env)
            reruns.append((seconds,) + counts(emu))
    pick = lambda runs: (statistics.median(r[0] for r in runs), runs[0][1], runs[0][2])  # noqa: E731
    return pick(firsts), pick(reruns)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        sys.exit("kubectl is not on PATH")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    secret = ["-e", "vault_edp_registry_password=bench-only-password"]
    print("%-8s %-8s %-9s %9s %7s %7s   %9s %7s %7s   %6s" % (
        "tenants", "objects", "run", "ansible s", "reads", "writes", "kubectl s", "reads", "writes", "ratio"))
    with tempfile.TemporaryDirectory(prefix="edp-bench-") as tmp:
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
            ans = measure([BIN / "ansible-playbook", "site.yml", "-i", inv] + secret, work, env, args.repeat)
            kub = measure([kubectl, "apply"] + [a for f in files for a in ("-f", f)], work, env, args.repeat)
            for label, a, k in (("first", ans[0], kub[0]), ("rerun", ans[1], kub[1])):
                print("%-8d %-8d %-9s %9.2f %7d %7d   %9.2f %7d %7d   %5.1fx" % (
                    tenants, objects, label, a[0], a[1], a[2], k[0], k[1], k[2], a[0] / k[0]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
