"""Render mode is a GitOps export that applies and works: kubectl (or Argo CD) alone turns
it into the same tenant site.yml makes, its generated secrets are stable across renders, and
no secret lands in a file anyone but its owner can read."""

import base64
import os
import pathlib
import shutil
import stat
import subprocess

import pytest
import yaml

from conftest import failure_messages, kubernetes_cluster

KUBECTL = shutil.which("kubectl")
TENANTS = ["finance", "marketing"]


def render(ansible, env, folder, **extra_vars):
    run = ansible.playbook("site.yml", env, extra_vars=dict(edp_render_dir=str(folder), **extra_vars))
    assert run.rc == 0, failure_messages(run)
    return run


def files(folder):
    return sorted(p for p in pathlib.Path(folder).rglob("*") if p.is_file())


def secret_values(folder):
    """The generated keys and the registry credentials of every rendered Secret, as stored
    (base64) and decoded (user and database names in the same Secrets are not secret)."""
    from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko

    values = set()
    for path in pathlib.Path(folder).rglob("05-secret-*.yaml"):
        doc = yaml.safe_load(path.read_text())
        keys = ko.generated_keys(doc)  # the certificate authority's and the server's keys too
        for name, value in (doc.get("data") or {}).items():
            if name in keys or name == ".dockerconfigjson":
                values.update({value, base64.b64decode(value).decode()})
    return values


def test_rerender_keeps_every_generated_secret(ansible_offline, tmp_path):
    first = render(ansible_offline, "dev", tmp_path)
    before = {p: p.read_bytes() for p in files(tmp_path / "dev" / "secrets")}
    generated = {item["name"]: item["generated"] for host in first.task_results(
        "Render and apply every role's objects in one call").values()
        for item in host["objects"] if item.get("generated")}
    assert generated == {"postgres-credentials": ["superuser-password", "airflow-password"],
                         "postgres-tls": ["ca.crt", "ca.key", "tls.crt", "tls.key"],
                         "airflow-secrets": ["fernet-key", "jwt-secret", "api-secret-key", "admin-password"]}, generated
    second = render(ansible_offline, "dev", tmp_path)
    assert second.changed() == 0
    assert {p: p.read_bytes() for p in files(tmp_path / "dev" / "secrets")} == before
    # ... and what they hold is real: every generated key has a value
    for tenant in TENANTS:
        creds = yaml.safe_load((tmp_path / "dev" / "secrets" / tenant / "05-secret-postgres-credentials.yaml").read_text())
        assert len(base64.b64decode(creds["data"]["superuser-password"])) >= 24


def test_an_unreadable_earlier_secret_stops_the_render_instead_of_making_new_passwords(ansible_offline, tmp_path):
    render(ansible_offline, "dev", tmp_path)
    path = tmp_path / "dev" / "secrets" / "finance" / "05-secret-postgres-credentials.yaml"
    path.write_text("data: [unclosed\n")
    run = ansible_offline.playbook("site.yml", "dev", extra_vars={"edp_render_dir": str(tmp_path)})
    assert run.rc != 0
    assert "cannot read the earlier render %s" % path in failure_messages(run)
    assert path.read_text() == "data: [unclosed\n"


def test_no_secret_in_a_file_others_can_read(ansible_offline, tmp_path):
    render(ansible_offline, "prod", tmp_path)
    root = tmp_path / "prod"
    values = secret_values(root) | {ansible_offline.registry_password}
    assert len(values) > 10, "the render holds fewer secrets than the platform makes"
    for folder in [root / "secrets"] + [root / "secrets" / t for t in TENANTS]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in files(tmp_path):
        mode = stat.S_IMODE(path.stat().st_mode)
        doc = yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else None
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            assert mode == 0o600 and "/secrets/" in str(path), "%s is %o" % (path, mode)
        if mode & 0o077:
            text = path.read_text()
            leaked = [v[:4] + "..." for v in values if v in text]
            assert not leaked, "%s (mode %o) holds secrets %s" % (path, mode, leaked)
    assert (root / ".gitignore").read_text().splitlines()[-1] == "/secrets/"


def test_render_can_leave_secret_values_out_for_a_secret_store_of_ones_own(ansible_offline, tmp_path):
    """edp_render_secret_values: false writes no Secret and names each Secret the tenant needs, with
    its keys; nothing written holds the registry password (the one secret the inventory gives)."""
    run = render(ansible_offline, "prod", tmp_path, edp_render_secret_values=False)
    root = tmp_path / "prod"
    assert not (root / "secrets").exists()
    written = files(root)
    assert len(written) > 100 and all("/manifests/" in str(p) or p.name == ".gitignore" for p in written)
    assert not [p for p in written if ansible_offline.registry_password in p.read_text()]
    for path in written:
        if path.suffix == ".yaml":
            assert yaml.safe_load(path.read_text()).get("kind") != "Secret", path
    omitted = run.task_results("Render and apply every role's objects in one call")["finance"]["render"]
    assert omitted["secrets"] is None
    assert omitted["secrets_omitted"]["postgres-credentials"] == [
        "airflow-database", "airflow-password", "airflow-user", "superuser", "superuser-password"]
    assert omitted["secrets_omitted"]["edp-registry"] == [".dockerconfigjson"]
    assert "jwt-secret" in omitted["secrets_omitted"]["airflow-secrets"]


def _kubectl(emulator, tmp_path, *args):
    home = tmp_path / "kubectl-home"
    home.mkdir(exist_ok=True)
    kubeconfig = emulator.write_kubeconfig(home / "kubeconfig")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "K8S_AUTH"))}
    env.update(HOME=str(home), KUBECONFIG=str(kubeconfig))
    proc = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _tenant_objects(emulator, namespaces):
    """{(kind, namespace, name): object} of everything the platform made (its label)."""
    found = {}
    for namespace in namespaces:
        obj = emulator.get_object("v1", "Namespace", namespace)
        found[("Namespace", None, namespace)] = obj
        for key in emulator.store.namespaces_in_use(namespace):
            for obj in emulator.store.list(key, namespace):
                labels = obj["metadata"].get("labels") or {}
                # the record of applied kinds and the releases are site.yml's bookkeeping, not part
                # of the tenant (a GitOps export's history is its repository's)
                if labels.get("app.kubernetes.io/managed-by") == "edp.platform" \
                        and obj["metadata"]["name"] != "edp-platform-applied" \
                        and obj.get("type") != "edp.platform/release.v1":
                    found[(obj["kind"], namespace, obj["metadata"]["name"])] = obj
    return found


def _secret_refs(objects):
    """(secret, key) of every secretKeyRef and every item of a secret volume in a pod template."""
    refs = set()

    def walk(value):
        if isinstance(value, dict):
            if "secretKeyRef" in value:
                refs.add((value["secretKeyRef"]["name"], value["secretKeyRef"]["key"]))
            if "secret" in value and isinstance(value["secret"], dict) and value["secret"].get("items"):
                refs.update((value["secret"]["secretName"], i["key"]) for i in value["secret"]["items"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for obj in objects.values():
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            walk(obj["spec"])
    return refs


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_apply_k_of_the_render_makes_what_site_yml_makes(ansible, emulator, tmp_path):
    # One cluster gets the GitOps export, applied as the README says ...
    gitops = kubernetes_cluster().start()
    try:
        render(ansible, "dev", tmp_path / "render")
        for tenant in TENANTS:
            for part in ("manifests", "secrets"):
                _kubectl(gitops, tmp_path, "apply", "--server-side", "--field-manager=edp-platform",
                         "-k", str(tmp_path / "render" / "dev" / part / tenant))
        # ... the other one site.yml.
        run = ansible.playbook("site.yml", "dev")
        assert run.rc == 0, failure_messages(run)

        namespaces = ["%s-dev" % t for t in TENANTS]
        exported, applied = _tenant_objects(gitops, namespaces), _tenant_objects(emulator, namespaces)
        assert sorted(exported) == sorted(applied)
        for key, obj in applied.items():
            if obj["kind"] == "Secret":
                assert sorted(exported[key]["data"]) == sorted(obj["data"]), key
        refs = _secret_refs(exported)
        assert refs == _secret_refs(applied) and refs, "workloads reference different Secret keys"
        for secret, key in sorted(refs):
            for namespace in namespaces:
                assert key in exported[("Secret", namespace, secret)]["data"], (namespace, secret, key)

        # site.yml on the exported cluster finds nothing to change but its own record of kinds.
        gitops.write_kubeconfig(tmp_path / "gitops-kubeconfig")
        gitops.reset_requests()
        ansible.kubeconfig = tmp_path / "gitops-kubeconfig"
        run = ansible.playbook("site.yml", "dev")
        assert run.rc == 0, failure_messages(run)
        assert {w["path"].rsplit("/", 1)[-1] for w in gitops.writes()} == {"edp-platform-applied"}, gitops.writes()
    finally:
        gitops.stop()
