"""playbooks/onboard.yml: a tenant is added in one step, validated before anything is written,
and the next site.yml run creates it without changing any other tenant's objects."""

import shutil

import pytest
import yaml

from conftest import REPO, failure_messages

ENV = "dev"


@pytest.fixture
def inventories(tmp_path):
    copy = tmp_path / "inventories"
    shutil.copytree(REPO / "inventories", copy)
    return copy


def onboard(ansible, inventories, tenant, *args, env=ENV):
    return ansible.playbook("playbooks/onboard.yml", "local", *args, vault=False, extra_vars={
        "tenant": tenant, "env": env, "onboard_inventories": str(inventories)})


def render(ansible, inventories, folder):
    run = ansible.playbook("site.yml", str(inventories / ENV), extra_vars={"edp_render_dir": str(folder)})
    assert run.rc == 0, failure_messages(run)


def snapshot(folder):
    """{path below the render: bytes} of every file written, Secrets included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tenants(inventories):
    return list(yaml.safe_load((inventories / ENV / "hosts.yml").read_text())["all"]["children"]["tenants"]["hosts"])


def test_a_new_tenant_gets_its_own_namespace_and_no_other_tenant_changes(ansible_offline, inventories, tmp_path):
    renders = tmp_path / "render"
    render(ansible_offline, inventories, renders)
    before = snapshot(renders)
    assert before, "the first render wrote nothing"

    run = onboard(ansible_offline, inventories, "sales")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    assert tenants(inventories)[-1] == "sales"

    # Into the same folder: the render reads its earlier Secrets back, as a GitOps repository does.
    render(ansible_offline, inventories, renders)
    after = snapshot(renders)
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert changed == [], "other tenants' files changed by onboarding sales: %s" % changed[:10]
    added = sorted(set(after) - set(before))
    assert added and all("/sales/" in p for p in added), "files outside the new tenant's folders: %s" % [
        p for p in added if "/sales/" not in p]

    objects = [yaml.safe_load((renders / p).read_text()) for p in added
               if p.startswith("%s/manifests/sales/" % ENV) and p.endswith(".yaml") and "kustomization" not in p]
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    assert namespaces == ["sales-%s" % ENV]
    elsewhere = sorted({o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} - {"sales-dev", None})
    assert elsewhere == [], "the new tenant's objects land in other namespaces: %s" % elsewhere


def test_a_rerun_changes_nothing_and_check_mode_writes_nothing(ansible_offline, inventories):
    hosts = inventories / ENV / "hosts.yml"
    original = hosts.read_bytes()
    run = onboard(ansible_offline, inventories, "sales", "--check")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    assert hosts.read_bytes() == original

    assert onboard(ansible_offline, inventories, "sales").changed() == 1
    written = hosts.read_bytes()
    run = onboard(ansible_offline, inventories, "sales")
    assert run.rc == 0 and run.changed() == 0, failure_messages(run)
    assert hosts.read_bytes() == written


@pytest.mark.parametrize("tenant,message", [
    ("Sales_EU", "tenant: 'Sales_EU' is not a DNS-1123 label"),
    ("a" * 60, "edp_namespace: '%s-dev'" % ("a" * 60)),
])
def test_a_bad_name_is_refused_before_anything_is_written(ansible_offline, inventories, tenant, message):
    original = (inventories / ENV / "hosts.yml").read_bytes()
    run = onboard(ansible_offline, inventories, tenant)
    assert run.rc != 0
    assert message in failure_messages(run)
    assert (inventories / ENV / "hosts.yml").read_bytes() == original


def test_a_namespace_another_tenant_uses_is_refused(ansible_offline, inventories):
    (inventories / ENV / "host_vars").mkdir(exist_ok=True)
    (inventories / ENV / "host_vars" / "finance.yml").write_text("---\nedp_namespace: sales-dev\n")
    original = (inventories / ENV / "hosts.yml").read_bytes()
    run = onboard(ansible_offline, inventories, "sales")
    assert run.rc != 0
    assert ("Not onboarded: tenants finance and sales both resolve to the namespace sales-dev"
            in failure_messages(run))
    assert (inventories / ENV / "hosts.yml").read_bytes() == original


def test_an_unknown_environment_is_refused(ansible_offline, inventories):
    run = onboard(ansible_offline, inventories, "sales", env="qa")
    assert run.rc != 0
    assert "env must be one of: dev, test, staging, prod, local, got: qa" in failure_messages(run)
