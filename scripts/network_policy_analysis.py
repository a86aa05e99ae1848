#!/usr/bin/env python3
"""Connectivity of the network_policy role's rendered objects, by network-config-analyzer.

Renders an inventory (render mode: no cluster), puts its tenants' workloads and NetworkPolicies
beside the pods that only exist at run time (Airflow's task workers, Spark's drivers and
executors, the drill Job, the monitoring role's exporters) and the peers outside the tenants
(cluster DNS, the ingress controller, Prometheus), and asks network-config-analyzer (nca) which
connections the policies allow. nca pins its dependencies exactly, so it runs from its own
virtualenv, build/nca-venv, made on first use from requirements-nca.txt.

    scripts/network_policy_analysis.py            # docs/network-policy.dot and .svg, from the analysis
    scripts/network_policy_analysis.py --check    # fails when the committed picture is not current

tests/integration/test_network_policy.py compares the same analysis with an expected matrix.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import hashlib
import io
import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
VENV = REPO / "build" / "nca-venv"
REQUIREMENTS = REPO / "requirements-nca.txt"
DOCS = REPO / "docs"
# The inventory analysed and pictured: two tenants, an egress allow-list, the monitoring flows on.
INVENTORY = "prod"
EXTRA_VARS = {"network_policy_monitoring": True}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
# Peers outside the tenants, per flavour: {namespace: (namespace labels, {pod: labels})}.
OUTSIDE = {
    "kubernetes": {
        "kube-system": ({}, {"kube-dns": {"k8s-app": "kube-dns"}}),
        "ingress-nginx": ({}, {"ingress-controller": {"app.kubernetes.io/name": "ingress-nginx"}}),
        "monitoring": ({}, {"prometheus": {"app.kubernetes.io/name": "prometheus"}}),
    },
    "openshift": {
        "openshift-dns": ({}, {"dns-default": {"dns.operator.openshift.io/daemonset-dns": "default"}}),
        "openshift-ingress": ({"network.openshift.io/policy-group": "ingress"},
                              {"router-default": {"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"}}),
        "openshift-user-workload-monitoring": ({"network.openshift.io/policy-group": "monitoring"},
                                               {"prometheus": {"app.kubernetes.io/name": "prometheus"}}),
    },
}


def ensure_venv(venv: pathlib.Path = VENV) -> pathlib.Path:
    """nca's own virtualenv from the pin file; a stamp named after its digest marks a finished build."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    stamp = venv / (".installed-" + digest)
    if stamp.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    # A lock: two test workers (or a test and make network-policy-docs) must not build it at once.
    with open(venv.parent / (venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "--no-input", "--no-deps", "-r", str(REQUIREMENTS)],
                           check=True)
            stamp.touch()
    return venv


def render(folder: pathlib.Path, inventory: str = INVENTORY, flavour: str = "kubernetes", **extra) -> pathlib.Path:
    """The inventory's objects in render mode (a throwaway registry password: the Secrets are not analysed)."""
    bindir = pathlib.Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               TMPDIR=tempfile.mkdtemp(prefix="nca-render-"), PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
    variables = dict(EXTRA_VARS, edp_render_dir=str(folder), edp_flavour=flavour,
                     vault_edp_registry_password=secrets.token_urlsafe(12), **extra)
    proc = subprocess.run([str(bindir / "ansible-playbook"), str(REPO / "site.yml"), "-i",
                           str(REPO / "inventories" / inventory), "-e", json.dumps(variables)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError("render of %s failed:\n%s%s" % (inventory, proc.stdout[-3000:], proc.stderr[-2000:]))
    return folder / inventory / "manifests"


def _pod(name, namespace, labels, spec=None):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": spec or {"containers": [{"name": "main", "image": "example"}]}}


def _runtime_pods(objects, namespace):
    """The pods a tenant runs that no rendered workload describes."""
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    pods = []
    config = by_name.get(("ConfigMap", "airflow-config"))
    if config:  # the KubernetesExecutor's task pod
        worker = yaml.safe_load(config["data"]["pod_template_file.yaml"])
        pods.append(_pod("airflow-worker", namespace, worker["metadata"]["labels"], worker["spec"]))
    defaults = by_name.get(("ConfigMap", "spark-defaults"))
    if defaults:  # Spark sets spark-role and the application's selector on its pods
        for role in ("driver", "executor"):
            template = yaml.safe_load(defaults["data"]["%s-pod-template.yaml" % role])
            labels = dict(template["metadata"]["labels"], **{"spark-role": role, "spark-app-selector": "spark-0001"})
            pods.append(_pod("spark-" + role, namespace, labels, template["spec"]))
    dump = by_name.get(("CronJob", "postgres-dump"))
    if dump:  # backup.yml / dr_drill.yml run the dump CronJob's pod with another component
        labels = dict(dump["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
        pods.append(_pod("postgres-drill", namespace, dict(labels, **{"app.kubernetes.io/component": "drill"})))
    components = {(o.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {})
                  .get("app.kubernetes.io/component") for o in objects if o["kind"] in WORKLOADS}
    tenant = next(iter(o["metadata"]["labels"]["edp.platform/tenant"] for o in objects))
    for component in ("statsd-exporter", "postgres-exporter"):
        if component not in components:  # the monitoring role's, before it renders them
            pods.append(_pod(component, namespace, {"app.kubernetes.io/name": component,
                                                   "app.kubernetes.io/component": component,
                                                   "app.kubernetes.io/instance": tenant}))
    return pods


def world(manifests: pathlib.Path, out: pathlib.Path, flavour: str = "kubernetes") -> pathlib.Path:
    """nca's input: every tenant's namespace, workloads, run-time pods and NetworkPolicies, and the peers outside."""
    out.mkdir(parents=True, exist_ok=True)
    documents = []
    for tenant_dir in sorted(p for p in manifests.iterdir() if p.is_dir()):
        objects = [yaml.safe_load(p.read_text()) for p in sorted(tenant_dir.glob("*.yaml")) if p.name != "kustomization.yaml"]
        namespace = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
        documents += [o for o in objects if o["kind"] in WORKLOADS | {"Namespace", "NetworkPolicy"}]
        documents += _runtime_pods(objects, namespace)
    for namespace, (labels, pods) in OUTSIDE[flavour].items():
        documents.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}})
        documents += [_pod(name, namespace, pod_labels) for name, pod_labels in pods.items()]
    (out / "world.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return out


def connectivity(folder: pathlib.Path, output_format: str = "csv", venv: pathlib.Path | None = None) -> str:
    """nca's connectivity map of the world in folder."""
    venv = venv or ensure_venv()
    world_file = "world.yaml"  # relative: nca names it in its output, which must not depend on the folder
    proc = subprocess.run([str(venv / "bin" / "nca"), "--connectivity", world_file, "--pod_list", world_file,
                           "--ns_list", world_file, "--output_format", output_format, "--output_endpoints",
                           "deployments"], capture_output=True, text=True, cwd=folder)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError("nca failed (%d):\n%s%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    lines = proc.stdout.splitlines(keepends=True)
    if output_format == "dot":  # nca prints a summary before the graph and its run time after it
        lines = lines[next(i for i, line in enumerate(lines) if line.startswith(("//", "digraph"))):]
        lines = lines[:max(i for i, line in enumerate(lines) if line.rstrip() == "}") + 1]
    else:
        lines = [line for line in lines if not line.startswith("Total run time")]
    return "".join(lines)


def parse_csv(text: str) -> list[tuple[str, str, str]]:
    """(source, destination, connections) rows of nca's csv output."""
    rows = list(csv.reader(io.StringIO(text)))
    return [tuple(r[:3]) for r in rows[1:] if len(r) >= 3 and r[0] != "src"]


def digest(dot: str) -> str:
    """The mark the SVG carries of the dot file it was drawn from."""
    return "network-policy.dot sha256:" + hashlib.sha256(dot.encode()).hexdigest()


def analyse(work: pathlib.Path, flavour: str = "kubernetes", output_format: str = "csv", **extra) -> str:
    manifests = render(work / "render", flavour=flavour, **extra)
    return connectivity(world(manifests, work / "world", flavour), output_format)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/network-policy.dot is not current")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nca-") as work:
        dot = analyse(pathlib.Path(work), output_format="dot")
    target = DOCS / "network-policy.dot"
    if args.check:
        if not target.exists() or target.read_text() != dot:
            print("docs/network-policy.dot is not current: run make network-policy-docs", file=sys.stderr)
            return 1
        return 0
    DOCS.mkdir(exist_ok=True)
    target.write_text(dot)
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout
    # Drawn from this dot file (test_network_policy.py checks the mark).
    svg = svg.replace("<svg ", "<!-- %s -->\n<svg " % digest(dot), 1)
    (DOCS / "network-policy.svg").write_text(svg)
    print("wrote %s and %s" % (target.relative_to(REPO), (DOCS / "network-policy.svg").relative_to(REPO)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
