"""kubernetes.core (k8s, k8s_info) end to end via ansible-playbook."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lib.short_tmp import short_tmpdir
from support import Http

PLAYBOOK_BIN = Path(sys.executable).parent / "ansible-playbook"
pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists() and not shutil.which("ansible-playbook"),
                                reason="ansible-playbook not installed")

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      gather_facts: false
      vars:
        use_apply: false
      tasks:
        - name: namespace
          kubernetes.core.k8s:
            state: present
            apply: "{{ use_apply }}"
            definition: {apiVersion: v1, kind: Namespace, metadata: {name: ans}}
        - name: deployment
          kubernetes.core.k8s:
            state: present
            apply: "{{ use_apply }}"
            wait: true
            wait_timeout: 30
            definition:
              apiVersion: apps/v1
              kind: Deployment
              metadata: {name: web, namespace: ans}
              spec:
                replicas: 2
                selector: {matchLabels: {app: web}}
                template:
                  metadata: {labels: {app: web}}
                  spec:
                    containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
        - name: statefulset
          kubernetes.core.k8s:
            state: present
            apply: "{{ use_apply }}"
            wait: true
            wait_timeout: 30
            definition:
              apiVersion: apps/v1
              kind: StatefulSet
              metadata: {name: db, namespace: ans}
              spec:
                serviceName: db
                replicas: 1
                selector: {matchLabels: {app: db}}
                template:
                  metadata: {labels: {app: db}}
                  spec:
                    containers: [{name: db, image: "postgres:16"}]
        - name: read back
          kubernetes.core.k8s_info:
            kind: Deployment
            namespace: ans
            name: web
          register: info
        - assert:
            that:
              - info.resources | length == 1
              - info.resources[0].status.readyReplicas == 2
        - name: a deployment that never becomes ready times out
          kubernetes.core.k8s:
            state: present
            wait: true
            wait_timeout: 1
            wait_sleep: 1
            definition:
              apiVersion: apps/v1
              kind: Deployment
              metadata:
                name: stuck
                namespace: ans
                annotations: {emulator.edp.platform/ready: "false"}
              spec:
                selector: {matchLabels: {app: stuck}}
                template:
                  metadata: {labels: {app: stuck}}
                  spec:
                    containers: [{name: c, image: "busybox:1.36"}]
          register: stuck
          failed_when: false
          when: check_timeout | default(false) | bool
        - assert:
            that:
              - stuck.msg is defined
              - "'Timed out' in stuck.msg or 'timed out' in stuck.msg"
          when: check_timeout | default(false) | bool
    """)


def run_playbook(path, env, tmp_path, *extra):
    run_env = dict(env, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   K8S_AUTH_KUBECONFIG=env["KUBECONFIG"], ANSIBLE_NOCOLOR="1",
                   ANSIBLE_STDOUT_CALLBACK="json")
    # Fresh TMPDIR per run: kubernetes.core caches discovery in $TMPDIR/k8srcp-*.json.
    run_env["TMPDIR"] = str(short_tmpdir())
    result = subprocess.run([str(PLAYBOOK_BIN), str(path), "-e", f"ansible_python_interpreter={sys.executable}",
                             *extra], env=run_env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    stats = json.loads(result.stdout)["stats"]["localhost"]
    return stats


def test_kubernetes_core_converges_then_reapplies_without_changes(emu, tool_env, tmp_path):
    emu.write_kubeconfig(tool_env["KUBECONFIG"])
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)

    first = run_playbook(playbook, tool_env, tmp_path, "-e", "use_apply=true", "-e", "check_timeout=true")
    assert first["failures"] == 0 and first["changed"] == 4  # ns, deployment, statefulset, stuck
    sts = emu.get_object("apps/v1", "StatefulSet", "db", "ans")
    assert sts["status"]["updatedReplicas"] == 1
    versions = {kind: emu.get_object("apps/v1", kind, name, "ans")["metadata"]["resourceVersion"]
                for kind, name in [("Deployment", "web"), ("StatefulSet", "db")]}

    emu.reset_requests()
    second = run_playbook(playbook, tool_env, tmp_path, "-e", "use_apply=true")
    assert second["failures"] == 0 and second["changed"] == 0
    for kind, name in [("Deployment", "web"), ("StatefulSet", "db")]:
        assert emu.get_object("apps/v1", kind, name, "ans")["metadata"]["resourceVersion"] == versions[kind]
    # kubernetes.core may still send (no-op) patches; none of them changed anything
    assert all(e["status"] == 200 for e in emu.writes())
    assert Http(emu.url).get("/api/v1/namespaces/ans").status == 200
