"""Kubeconfig handling of the apply path's REST client (module_utils/kube.py)."""

import base64
import json
import os
import stat
import sys

import pytest

from ansible_collections.edp.platform.plugins.module_utils import kube


def write(tmp_path, user, cluster=None, name="kubeconfig"):
    cluster = cluster or {"server": "https://api.example.com:6443"}
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": cluster}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "team"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": user}],
    }
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG", "K8S_AUTH_CONTEXT", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent-home")


def test_token_user_and_context_namespace(tmp_path):
    cfg = kube.load_config(write(tmp_path, {"token": "abc"}))
    assert (cfg.server, cfg.token, cfg.namespace, cfg.verify) == ("https://api.example.com:6443", "abc", "team", True)


def test_other_context_is_chosen_by_name(tmp_path):
    assert kube.load_config(write(tmp_path, {"token": "abc"}), context="other").namespace == "default"


def test_unknown_context_is_named_in_the_error(tmp_path):
    with pytest.raises(kube.KubeConfigError, match="context 'nope' is not defined"):
        kube.load_config(write(tmp_path, {"token": "abc"}), context="nope")


def test_token_file_is_read_relative_to_the_kubeconfig(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    assert kube.load_config(write(tmp_path, {"tokenFile": "token"})).token == "from-file"


def test_certificate_data_and_insecure_flag(tmp_path):
    data = base64.b64encode(b"PEM").decode()
    cfg = kube.load_config(write(tmp_path, {"client-certificate-data": data, "client-key-data": data},
                                 {"server": "https://x", "insecure-skip-tls-verify": True,
                                  "certificate-authority-data": data}))
    assert (cfg.cert_data, cfg.key_data, cfg.ca_data, cfg.verify) == (b"PEM", b"PEM", b"PEM", False)


def test_environment_variables_choose_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, {"token": "env"})
    monkeypatch.setenv("KUBECONFIG", "/missing:" + path)
    assert kube.load_config().token == "env"
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", write(tmp_path, {"token": "k8s-auth"}, name="second"))
    assert kube.load_config().token == "k8s-auth"


def test_no_kubeconfig_and_not_in_a_pod_says_what_to_set():
    with pytest.raises(kube.KubeConfigError, match="set edp_kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG"):
        kube.load_config()


def test_missing_explicit_kubeconfig_is_named(tmp_path):
    with pytest.raises(kube.KubeConfigError, match="does-not-exist does not exist"):
        kube.load_config(str(tmp_path / "does-not-exist"))


def test_exec_credential_plugin_supplies_the_token(tmp_path):
    plugin = tmp_path / "cred.py"
    plugin.write_text("import json, os\nprint(json.dumps({'kind': 'ExecCredential', "
                      "'status': {'token': 'exec-' + os.environ['WHO']}}))\n")
    path = write(tmp_path, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                     "args": [str(plugin)], "env": [{"name": "WHO", "value": "me"}]}})
    client = kube.KubeClient(kube.load_config(path))
    assert client.config.token == "exec-me"


def test_failing_exec_plugin_is_a_clear_error(tmp_path):
    path = write(tmp_path, {"exec": {"command": "/bin/false"}})
    with pytest.raises(kube.KubeConfigError, match="exec credential plugin /bin/false failed"):
        kube.KubeClient(kube.load_config(path))


def test_client_key_is_written_private_and_removed_on_close(tmp_path):
    cfg = kube.ClusterConfig("https://x", cert_data=b"c", key_data=b"k")
    client = kube.KubeClient(cfg)
    name = client._tmp(b"secret-key")
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    client.close()
    assert not os.path.exists(name)


def test_paths_for_core_and_named_groups():
    res = {"name": "deployments", "namespaced": True}
    assert kube.KubeClient.path("apps/v1", res, "ns", "d") == "/apis/apps/v1/namespaces/ns/deployments/d"
    assert kube.KubeClient.path("v1", {"name": "namespaces", "namespaced": False}, None, "n") == "/api/v1/namespaces/n"
