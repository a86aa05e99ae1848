"""Shared test harness.

* makes ``ansible_collections.edp.platform`` importable from the checkout (unit tests);
* ``emulator``: a fresh Kubernetes API emulator per test, or the real cluster named by
  ``EDP_TEST_KUBECONFIG`` (then tests that need the emulator's request log are skipped
  with that reason, and everything else runs unchanged);
* ``ansible``: runs a playbook like a user does, with a fresh TMPDIR per run
  (kubernetes.core caches API discovery there) and the vault of a test environment.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import subprocess
import sys
from dataclasses import dataclass

import pytest
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

REPO = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / "collections"
BIN = pathlib.Path(sys.executable).parent
ENVIRONMENTS = ["dev", "test", "staging", "prod"]

_AnsibleCollectionFinder(paths=[str(COLLECTIONS)])._install()
sys.path.insert(0, str(REPO / "tests" / "emulator"))


def crd_dir() -> pathlib.Path:
    """The upstream CRDs (test data of their projects, never copied into this repo)."""
    return pathlib.Path(os.environ.get("EDP_CRD_DIR") or REPO.parent / "shared" / "crds")


class RealCluster:
    """Stands in for the emulator when EDP_TEST_KUBECONFIG names a real cluster."""

    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig

    def write_kubeconfig(self, path):
        pathlib.Path(path).write_text(pathlib.Path(self.kubeconfig).read_text())

    def _no_log(self, *_):
        pytest.skip("a real cluster has no request log; this assertion needs the emulator")

    requests = writes = reset_requests = get_object = _no_log


def _crds():
    from kube_emulator.emulator import load_crds

    return load_crds(crd_dir())


def register_openshift(emulator):
    """Serve route.openshift.io, as an OpenShift cluster does."""
    for crd in _crds():
        if crd["spec"]["group"] == "route.openshift.io":
            emulator.create(crd)


@pytest.fixture
def emulator():
    real = os.environ.get("EDP_TEST_KUBECONFIG")
    if real:
        yield RealCluster(real)
        return
    from kube_emulator import Emulator

    emu = Emulator(kube_version=os.environ.get("EDP_TEST_KUBE_VERSION", "1.31"))
    # A Kubernetes cluster with the operators installed (prometheus, spark, snapshots), but
    # not OpenShift: register_openshift() adds what makes the emulator look like one.
    for crd in _crds():
        if crd["spec"]["group"] != "route.openshift.io":
            emu.create(crd)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    stats: dict
    results: list

    def changed(self, host=None):
        if host:
            return self.stats[host]["changed"]
        return sum(s["changed"] for s in self.stats.values())

    def task_results(self, task_name):
        """{host: result} of the task with this name (a role's tasks may carry the role's prefix)."""
        for play in self.results:
            for task in play["tasks"]:
                name = task["task"]["name"]
                if name == task_name or name.endswith(" : " + task_name):
                    return task["hosts"]
        raise AssertionError("no task named %r ran" % task_name)

    @property
    def output(self):
        return self.stdout + self.stderr


class Ansible:
    """Runs playbooks the way users do, against the emulator's kubeconfig."""

    def __init__(self, tmp_path, kubeconfig=None):
        self.tmp = tmp_path
        self.kubeconfig = kubeconfig
        self.runs = 0
        self.registry_password = "pw-" + secrets.token_urlsafe(16)
        self.vault_password_file = tmp_path / "vault-pass"
        self.vault_password_file.write_text(secrets.token_urlsafe(24))
        self.vault_file = tmp_path / "vault.yml"
        encrypted = subprocess.run(
            [str(BIN / "ansible-vault"), "encrypt_string", "--vault-password-file",
             str(self.vault_password_file), "--name", "vault_edp_registry_password",
             self.registry_password],
            capture_output=True, text=True, check=True, cwd=REPO).stdout
        self.vault_file.write_text("---\n" + encrypted)

    def env(self, json_output=True, **extra):
        self.runs += 1
        tmpdir = self.tmp / ("run%d" % self.runs)
        tmpdir.mkdir()
        env = dict(os.environ)
        env.update({
            "TMPDIR": str(tmpdir),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCAL_TEMP": str(tmpdir / "ansible-local"),
            "ANSIBLE_HOME": str(tmpdir / "ansible-home"),
            "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "")),
        })
        if self.kubeconfig:
            env["K8S_AUTH_KUBECONFIG"] = str(self.kubeconfig)
        if json_output:
            env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def playbook(self, playbook="site.yml", inventory="dev", *args, extra_vars=None,
                 vault=True, json_output=True, env=None):
        inv = inventory if os.path.isabs(str(inventory)) else REPO / "inventories" / inventory
        cmd = [str(BIN / "ansible-playbook"), str(REPO / playbook), "-i", str(inv)]
        if vault:
            cmd += ["-e", "@%s" % self.vault_file, "--vault-password-file", str(self.vault_password_file)]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        cmd += list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                              env=self.env(json_output=json_output, **(env or {})), timeout=600)
        stats, results = {}, []
        if json_output:
            try:
                doc = json.loads(proc.stdout)
                stats, results = doc["stats"], doc["plays"]
            except ValueError:
                pass
        return Run(proc.returncode, proc.stdout, proc.stderr, stats, results)


@pytest.fixture
def kubeconfig(emulator, tmp_path):
    path = tmp_path / "kubeconfig"
    emulator.write_kubeconfig(str(path))
    return path


@pytest.fixture
def ansible(tmp_path, kubeconfig):
    return Ansible(tmp_path, kubeconfig)


@pytest.fixture
def ansible_offline(tmp_path):
    """For runs that must not touch a cluster (render mode, local target, validation)."""
    return Ansible(tmp_path)


def failure_messages(run: Run) -> str:
    """Every failure message of a JSON-callback run, for assertion messages."""
    messages = []
    for play in run.results:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed"):
                    # A failed command's own words are in its stderr, as a user sees them.
                    stderr = (result.get("stderr") or "").strip().splitlines()[-1:]
                    messages.append("%s: %s" % (host, " ".join([str(result.get("msg"))] + stderr)))
    return "\n".join(messages) or run.output[-3000:]


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory):
    """The local target, brought up once by site.yml -i inventories/local (lib/local_platform.py)."""
    from lib.local_platform import LocalPlatform

    local = LocalPlatform(tmp_path_factory.mktemp("local"))
    try:
        run = local.run()
        assert run.rc == 0, failure_messages(run)
        local.first_run = run
        yield local
    finally:
        local.stop()
