"""After a converge, ``kubectl diff --server-side`` of the rendered objects shows nothing.

Render mode writes what the apply path sends; a converge applies it.  A GitOps tool
or an operator then comparing the rendered folder with the cluster through
server-side apply (``kubectl diff --server-side``: a dry-run apply by another field
manager, conflicts not forced) must find no difference and no conflict: not in
values, and not in list items the server keys with defaulted fields
(``protocol: TCP`` on Service and container ports).

One deliberate exception, by design of render mode: Secret keys listed in
``edp.platform/generate`` are generated once by render mode and once by the
cluster's converge, each keeping its own value.  Those keys are compared with the
live values put in (what a second render against this cluster's values would
write); everything else is diffed as rendered.
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml

from conftest import failure_messages

KUBECTL = shutil.which("kubectl")


def rendered_files(folder):
    """Every rendered manifest, whatever the layout (kustomization files are not objects)."""
    return sorted(p for p in folder.rglob("*.yaml") if p.name != "kustomization.yaml")


def generated_keys(doc):
    from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko

    # edp.platform/generate's keys, and edp.platform/generate-tls's authority and certificate.
    return sorted(ko.generated_keys(doc))


def with_live_generated_keys(path, folder, out, kubectl, env):
    """``path`` itself, or a copy under ``out`` whose generated Secret keys hold the live values."""
    from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko

    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    changed = False
    for doc in docs:
        keys = generated_keys(doc) if doc.get("kind") == "Secret" else []
        if not keys:
            continue
        meta = doc["metadata"]
        live = json.loads(subprocess.run(
            kubectl + ["get", "secret", meta["name"], "-n", meta["namespace"], "-o", "json"],
            env=env, capture_output=True, text=True, check=True, timeout=60).stdout)
        for key in keys:
            (doc.get("data") or {}).pop(key, None)
        ko.fill_generated(doc, live)  # the live value of every generated key
        changed = True
    if not changed:
        return path
    copy = out / path.relative_to(folder)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return copy


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")
def test_server_side_diff_after_converge_is_empty(ansible, emulator, kubeconfig, tmp_path):
    folder = tmp_path / "render"
    run = ansible.playbook("site.yml", "dev", extra_vars={"edp_render_dir": str(folder)})
    assert run.rc == 0, failure_messages(run)
    files = rendered_files(folder)
    assert files, "render mode wrote no manifest under %s" % folder

    run = ansible.playbook("site.yml", "dev")
    assert run.rc == 0, failure_messages(run)

    home = tmp_path / "kubectl-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "K8S_AUTH"))}
    env.update(HOME=str(home), KUBECONFIG=str(kubeconfig))
    kubectl = [KUBECTL, "--cache-dir", str(home / "cache")]
    cmd = kubectl + ["diff", "--server-side", "--force-conflicts=false"]
    for path in files:
        cmd += ["-f", str(with_live_generated_keys(path, folder, tmp_path / "diff-input", kubectl, env))]
    diff = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    # kubectl diff: 0 no differences, 1 differences, >1 an error (a conflict is an error)
    assert diff.returncode == 0, "exit %d\n%s%s" % (diff.returncode, diff.stdout[-6000:], diff.stderr[-3000:])
    assert diff.stdout == ""
