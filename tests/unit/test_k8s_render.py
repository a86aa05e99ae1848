"""Render mode's files (module_utils/k8s_render.py): layout, modes, kustomizations, stable
generated secrets, prune, check mode."""

import base64
import os
import stat

import pytest
import yaml

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_render as kr


def labelled(obj, role="airflow"):
    obj["metadata"]["labels"] = {ko.LABEL_ROLE: role}
    return obj


def secret(name="creds", **data):
    return labelled({"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": name, "namespace": "t-dev",
                                  "annotations": {ko.ANNOTATION_GENERATE: "password,fernet:fernet"}},
                     "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})


def configmap(name="cfg"):
    return labelled({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "t-dev"},
                     "data": {"a": "1"}})


def counter():
    made = []

    def generate(kind="token"):
        made.append(kind)
        return "generated-%d" % len(made)
    return generate, made


def test_layout_puts_secrets_apart_with_private_modes(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    generate, _ = counter()
    done = kr.render(target, [configmap(), secret(user="app")], {"airflow"}, generate=generate)
    assert [a for _, a, _, _ in done] == ["written", "written"]
    manifests, secrets = tmp_path / "dev" / "manifests" / "t", tmp_path / "dev" / "secrets" / "t"
    assert sorted(os.listdir(manifests)) == ["06-configmap-cfg.yaml", "kustomization.yaml"]
    assert sorted(os.listdir(secrets)) == ["05-secret-creds.yaml", "kustomization.yaml"]
    for path in (secrets.parent, secrets):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load((secrets / "kustomization.yaml").read_text())["resources"] == ["05-secret-creds.yaml"]
    assert (tmp_path / "dev" / ".gitignore").read_text().endswith("/secrets/\n")


def test_generated_keys_are_made_once_and_read_back(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    generate, made = counter()
    kr.render(target, [secret()], {"airflow"}, generate=generate)
    first = (tmp_path / "dev" / "secrets" / "t" / "05-secret-creds.yaml").read_text()
    assert made == ["token", "fernet"]
    done = kr.render(target, [secret()], {"airflow"}, generate=generate)
    assert made == ["token", "fernet"], "a second render generated again"
    assert [a for _, a, _, _ in done] == ["unchanged"]
    assert (tmp_path / "dev" / "secrets" / "t" / "05-secret-creds.yaml").read_text() == first


def test_a_value_from_the_inventory_wins_over_the_generated_one(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    generate, _ = counter()
    kr.render(target, [secret()], {"airflow"}, generate=generate)
    kr.render(target, [secret(password="from-the-vault")], {"airflow"}, generate=generate)
    data = yaml.safe_load((tmp_path / "dev" / "secrets" / "t" / "05-secret-creds.yaml").read_text())["data"]
    assert base64.b64decode(data["password"]).decode() == "from-the-vault"
    assert base64.b64decode(data["fernet"]).decode() == "generated-2"


def test_stale_files_of_the_components_rendered_now_are_removed(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    other = labelled(configmap("theirs"), role="dr")
    kr.render(target, [configmap(), configmap("old"), other], {"airflow", "dr"})
    done = kr.render(target, [configmap()], {"airflow"})
    assert [(o["metadata"]["name"], a) for o, a, _, _ in done] == [("cfg", "unchanged"), ("old", "removed")]
    manifests = tmp_path / "dev" / "manifests" / "t"
    assert sorted(os.listdir(manifests)) == ["06-configmap-cfg.yaml", "06-configmap-theirs.yaml", "kustomization.yaml"]
    assert yaml.safe_load((manifests / "kustomization.yaml").read_text())["resources"] == [
        "06-configmap-cfg.yaml", "06-configmap-theirs.yaml"]


def test_check_mode_writes_nothing(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    done = kr.render(target, [configmap(), secret()], {"airflow"}, check=True)
    assert [a for _, a, _, _ in done] == ["written", "written"]
    assert not (tmp_path / "dev").exists()


def test_an_earlier_render_that_cannot_be_read_is_an_error(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    kr.render(target, [secret()], {"airflow"})
    path = tmp_path / "dev" / "secrets" / "t" / "05-secret-creds.yaml"
    path.write_text("data: [")
    with pytest.raises(kr.RenderError, match="cannot read the earlier render .*05-secret-creds.yaml"):
        kr.render(target, [secret()], {"airflow"})


def test_the_environment_is_part_of_the_path():
    with pytest.raises(kr.RenderError, match="needs the environment"):
        kr.RenderTarget("/x", "", "t")
    assert kr.RenderTarget("/x", "prod", "t").manifests != kr.RenderTarget("/x", "dev", "t").manifests


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_every_render_makes_secret_files_and_their_folders_private_again(tmp_path):
    """A Secret file left readable by others (an older render, a copy, a umask) is made 0600 by
    the next render even when its content has not changed; its folders 0700."""
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    generate, _ = counter()
    kr.render(target, [configmap(), secret(user="app")], {"airflow"}, generate=generate)
    secrets = tmp_path / "dev" / "secrets" / "t"
    path, index = secrets / "05-secret-creds.yaml", secrets / "kustomization.yaml"
    for opened, mode in ((secrets.parent, 0o755), (secrets, 0o755), (path, 0o644), (index, 0o644)):
        opened.chmod(mode)
    assert [a for _, a, _, _ in kr.render(target, [configmap(), secret(user="app")], {"airflow"}, check=True,
                                          generate=generate)] == ["unchanged", "unchanged"]
    assert _mode(path) == 0o644, "check mode changed a mode"
    done = kr.render(target, [configmap(), secret(user="app")], {"airflow"}, generate=generate)
    assert [(a, e.get("mode")) for _, a, _, e in done] == [("unchanged", None), ("written", "0644 made 0600")]
    assert (_mode(secrets.parent), _mode(secrets), _mode(path), _mode(index)) == (0o700, 0o700, 0o600, 0o600)
    assert _mode(tmp_path / "dev" / "manifests" / "t" / "06-configmap-cfg.yaml") & 0o044, "manifests stay readable"


def test_without_secret_values_no_secret_is_written_and_earlier_ones_are_kept(tmp_path):
    target = kr.RenderTarget(str(tmp_path), "dev", "t")
    done = kr.render(target, [configmap(), secret(user="app")], {"airflow"}, secret_values=False)
    assert [(o["kind"], a, e.get("keys")) for o, a, _, e in done] == [
        ("ConfigMap", "written", None), ("Secret", "omitted", ["fernet", "password", "user"])]
    assert not (tmp_path / "dev" / "secrets").exists()
    assert "app" not in "".join(p.read_text() for p in (tmp_path / "dev").rglob("*") if p.is_file())
    # A render with values, then one without: the earlier Secret files are left as they were.
    kr.render(target, [configmap(), secret(user="app")], {"airflow"})
    before = {p: p.read_bytes() for p in (tmp_path / "dev" / "secrets").rglob("*") if p.is_file()}
    done = kr.render(target, [configmap()], {"airflow"}, secret_values=False)
    assert [a for _, a, _, _ in done] == ["unchanged"]
    assert {p: p.read_bytes() for p in (tmp_path / "dev" / "secrets").rglob("*") if p.is_file()} == before
