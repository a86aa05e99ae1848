"""kubectl end to end against the emulator (skipped when kubectl is not installed)."""

import json
import shutil
import subprocess
import textwrap

import pytest

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")

MANIFEST = textwrap.dedent("""\
    apiVersion: v1
    kind: Namespace
    metadata: {name: demo}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg, namespace: demo}
    data: {mode: fast}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds, namespace: demo}
    stringData: {password: hunter2}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: demo, labels: {app: web}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
            - name: web
              image: nginx:1.27
              ports: [{containerPort: 80, name: http}]
              env: [{name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: demo}
    spec:
      serviceName: db
      replicas: 1
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          containers: [{name: db, image: "postgres:16"}]
      volumeClaimTemplates:
        - metadata: {name: data}
          spec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: demo, labels: {app: web}}
    spec:
      selector: {app: web}
      ports: [{name: http, port: 80, targetPort: http}]
    ---
    apiVersion: monitoring.coreos.com/v1
    kind: ServiceMonitor
    metadata: {name: web, namespace: demo}
    spec:
      selector: {matchLabels: {app: web}}
      endpoints: [{port: http, interval: 30s}]
    """)

OBJECTS = ["namespace/demo", "configmap/cfg", "secret/creds", "deployment.apps/web", "statefulset.apps/db",
           "service/web", "servicemonitor.monitoring.coreos.com/web"]


@pytest.fixture
def kubectl(emu_crds, tool_env, tmp_path):
    emu_crds.write_kubeconfig(tool_env["KUBECONFIG"])

    def run(*args, check=True, stdin=None):
        result = subprocess.run([KUBECTL, *args], env=tool_env, capture_output=True, text=True,
                                timeout=60, input=stdin)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


def outcome(stdout):
    return dict(line.rsplit(" ", 1) for line in stdout.strip().splitlines())


def test_kubectl_apply_twice_is_idempotent_then_get_and_delete(kubectl, emu_crds, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)

    first = kubectl("apply", "-f", str(manifest))
    assert outcome(first.stdout) == {name: "created" for name in OBJECTS}
    # kubectl validated strictly on the server side (it found fieldValidation in /openapi/v3)
    assert {e["query"].get("fieldValidation") for e in emu_crds.writes()} == {"Strict"}

    secret_rv = emu_crds.get_object("v1", "Secret", "creds", "demo")["metadata"]["resourceVersion"]
    emu_crds.reset_requests()
    second = kubectl("apply", "-f", str(manifest))
    expected = {name: "unchanged" for name in OBJECTS}
    # A Secret with stringData is "configured" on every apply against a real server too
    # (kubernetes/kubernetes#87736): live objects only have data, so kubectl's 3-way diff
    # always re-sends stringData. The server's result is unchanged.
    expected["secret/creds"] = "configured"
    assert outcome(second.stdout) == expected
    writes = emu_crds.writes()
    assert [(e["method"], e["path"]) for e in writes] == [("PATCH", "/api/v1/namespaces/demo/secrets/creds")]
    assert emu_crds.get_object("v1", "Secret", "creds", "demo")["metadata"]["resourceVersion"] == secret_rv

    deploy = json.loads(kubectl("get", "deployment", "web", "-n", "demo", "-o", "json").stdout)
    assert deploy["status"]["readyReplicas"] == 2
    assert "web" in kubectl("get", "servicemonitors", "-n", "demo").stdout
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/web", "-n", "demo",
                                                "--timeout=10s").stdout
    kubectl("wait", "--for=condition=Available", "deployment/web", "-n", "demo", "--timeout=10s")

    deleted = kubectl("delete", "-f", str(manifest))
    assert len(deleted.stdout.strip().splitlines()) == len(OBJECTS)
    missing = kubectl("get", "configmap", "cfg", "-n", "demo", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_kubectl_apply_changes_only_what_changed(kubectl, emu_crds, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    kubectl("apply", "-f", str(manifest))
    manifest.write_text(MANIFEST.replace("replicas: 2", "replicas: 3"))
    emu_crds.reset_requests()
    result = outcome(kubectl("apply", "-f", str(manifest)).stdout)
    assert result["deployment.apps/web"] == "configured"
    assert result["configmap/cfg"] == "unchanged"
    patch = next(e for e in emu_crds.writes() if e["path"].endswith("/deployments/web"))
    assert patch["content_type"] == "application/strategic-merge-patch+json"
    assert emu_crds.get_object("apps/v1", "Deployment", "web", "demo")["spec"]["replicas"] == 3


def test_kubectl_server_side_apply(kubectl, emu_crds, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    first = kubectl("apply", "--server-side", "-f", str(manifest))
    assert set(outcome(first.stdout).values()) == {"serverside-applied"}
    before = emu_crds.get_object("apps/v1", "Deployment", "web", "demo")
    assert {e["manager"] for e in before["metadata"]["managedFields"]} == {"kubectl"}
    kubectl("apply", "--server-side", "-f", str(manifest))
    assert emu_crds.get_object("apps/v1", "Deployment", "web", "demo") == before


def test_kubectl_reports_server_validation_errors(kubectl, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MANIFEST.split("---")[1].replace("data: {mode", "dataz: {mode"))
    kubectl("create", "namespace", "demo")
    result = kubectl("apply", "-f", str(bad), check=False)
    assert result.returncode != 0
    assert 'unknown field "dataz"' in result.stderr
