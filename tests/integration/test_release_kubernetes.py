"""Releases on a Kubernetes API (the emulator): site.yml records them, history.yml lists them,
rollback.yml goes back to one."""

import json
import subprocess

import pytest
import yaml

from conftest import BIN, REPO, failure_messages

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_release as rel
from ansible_collections.edp.platform.plugins.module_utils.kube import KubeClient, load_config

APPLY = "Render and apply every role's objects in one call"
ROLLBACK = "Re-apply the release's objects and prune what it did not have"
NAMESPACE = "finance-dev"
IMAGES = yaml.safe_load((REPO / "inventories" / "dev" / "group_vars" / "tenants" / "images.yml").read_text())[
    "edp_images"]
# Release 2: the statsd exporter's image changed, and the volume-snapshot CronJob added.
RELEASE_2 = {"edp_images": dict(IMAGES, statsd_exporter="registry.example.com/edp/statsd-exporter:v0.28.1"),
             "dr_snapshot_class": "csi-snapclass"}
LEFT_ALONE = {"Secret", "PersistentVolumeClaim"}


def site(ansible, *args, **kwargs):
    run = ansible.playbook("site.yml", "dev", "-l", "finance", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def rollback(ansible, *args, **kwargs):
    return ansible.playbook("playbooks/rollback.yml", "dev", "-l", "finance", *args, **kwargs)


def client(kubeconfig):
    return KubeClient(load_config(str(kubeconfig)))


def snapshot(kubeconfig):
    """Every object of the tenant namespace of a kind the platform makes, minus what the server
    adds (status, uid, resourceVersion, generation, managedFields, ...), by (kind, name); the
    releases and the kinds record apart."""
    api, found = client(kubeconfig), {}
    try:
        for api_version, kind in ko.PRUNABLE:
            res = api.resource(api_version, kind)
            if res is None:
                continue
            for item in api.request("GET", api.path(api_version, res, NAMESPACE)).get("items", []):
                if item.get("type") == rel.RELEASE_TYPE or item["metadata"]["name"] == ko.RECORD_NAME:
                    continue
                item.pop("status", None)
                for name in ko.SERVER_METADATA:
                    item["metadata"].pop(name, None)
                found[(kind, item["metadata"]["name"])] = item
    finally:
        api.close()
    return found


def releases(kubeconfig):
    api = client(kubeconfig)
    try:
        return {r.revision: r for r in rel.releases_in(
            api.request("GET", api.path("v1", rel.SECRETS, NAMESPACE)).get("items", []), NAMESPACE, "finance", "dev")}
    finally:
        api.close()


def split(objects):
    return ({k: o for k, o in objects.items() if k[0] not in LEFT_ALONE},
            {k: o for k, o in objects.items() if k[0] in LEFT_ALONE})


def test_rollback_restores_release_1_prunes_what_release_2_added_and_leaves_secrets_and_volumes(
        ansible, emulator, kubeconfig):
    first = site(ansible).task_results(APPLY)["finance"]
    assert first["release"]["revision"] == 1
    release_1, _ = split(snapshot(kubeconfig))
    second = site(ansible, extra_vars=RELEASE_2).task_results(APPLY)["finance"]
    assert second["release"]["revision"] == 2
    added = {(o["kind"], o["name"]) for o in second["objects"] if o["action"] == "created"}
    assert added == {("CronJob", "postgres-snapshot")}, added
    before, left_alone = split(snapshot(kubeconfig))
    assert before != release_1

    run = rollback(ansible)
    assert run.rc == 0, failure_messages(run)
    result = run.task_results(ROLLBACK)["finance"]
    assert result["revision"] == 1 and result["release"]["revision"] == 3 and result["release"]["rollback_of"] == 1
    after, secrets_and_volumes = split(snapshot(kubeconfig))
    assert after == release_1, "objects differing from release 1's: %s" % sorted(
        k for k in set(after) | set(release_1) if after.get(k) != release_1.get(k))
    assert not (added - set(release_1)) & set(after), "release 2's additions were not pruned"
    assert secrets_and_volumes == left_alone
    kept = releases(kubeconfig)
    assert sorted(kept) == [1, 2, 3]
    assert kept[3].content["source"] == "rollback" and kept[3].content["hash"] == kept[1].content["hash"]

    emulator.reset_requests()
    again = rollback(ansible, extra_vars={"revision": 1})
    assert again.rc == 0, failure_messages(again)
    assert again.changed() == 0
    assert emulator.writes() == [], "a rerun of the rollback wrote: %s" % emulator.writes()
    assert "release" not in again.task_results(ROLLBACK)["finance"]


def test_rollback_to_a_revision_no_longer_kept_fails_saying_which_are(ansible, emulator):
    site(ansible)
    emulator.reset_requests()
    run = rollback(ansible, extra_vars={"revision": 7})
    assert run.rc != 0
    assert failure_messages(run) == ("finance: tenant finance has no release 7 in namespace finance-dev "
                                     "(releases kept: 1; edp_release_history sets how many are kept)")
    assert emulator.writes() == []


def test_rollback_in_check_mode_says_what_would_change_and_writes_nothing(ansible, emulator, kubeconfig):
    site(ansible)
    site(ansible, extra_vars=RELEASE_2)
    before = snapshot(kubeconfig)
    emulator.reset_requests()
    run = rollback(ansible, "--check")
    assert run.rc == 0, failure_messages(run)
    result = run.task_results(ROLLBACK)["finance"]
    assert result["changed"] and result["release"] == {"revision": 3, "recorded": False}
    assert {"kind": "CronJob", "name": "postgres-snapshot", "namespace": NAMESPACE, "action": "deleted"} \
        in result["objects"]
    assert emulator.writes() == []
    assert snapshot(kubeconfig) == before


def test_a_release_records_where_it_came_from_and_no_secret_value(ansible, emulator, kubeconfig):
    site(ansible)
    [release] = releases(kubeconfig).values()
    content = release.content
    commit = subprocess.run(["git", "-C", str(REPO / "inventories" / "dev"), "rev-parse", "HEAD"],
                            capture_output=True, text=True)
    if commit.returncode == 0:
        assert content["inventory_commit"] == commit.stdout.strip()
    else:
        assert "inventory_commit" not in content
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    assert (content["revision"], content["source"], content["collection_version"]) == (1, "site", version)
    assert content["hash"] == rel.applied_hash(content["objects"])
    assert release.secret["metadata"]["annotations"][rel.ANNOTATION_HASH] == content["hash"]
    for obj in content["objects"]:
        if obj["kind"] == "Secret":
            assert set(obj.get("data", {}).values()) <= {ko.MASK}, "a value of %s is kept" % ko.ident(obj)
    assert ansible.registry_password not in json.dumps(content)


def test_history_lists_the_releases_newest_last(ansible, emulator):
    site(ansible)
    site(ansible, extra_vars=RELEASE_2)
    run = ansible.playbook("playbooks/history.yml", "dev", "-l", "finance")
    assert run.rc == 0, failure_messages(run)
    result = run.task_results("Read the releases")["finance"]
    assert [(r["revision"], r["source"], r["current"]) for r in result["releases"]] == [
        (1, "site", False), (2, "site", True)]
    assert result["lines"][1].startswith("revision 2 (current), ")


def test_only_the_last_edp_release_history_releases_are_kept(ansible, emulator, kubeconfig):
    site(ansible, extra_vars={"edp_release_history": 1})
    run = site(ansible, extra_vars=dict(RELEASE_2, edp_release_history=1))
    assert run.task_results(APPLY)["finance"]["release"]["pruned_revisions"] == [1]
    assert sorted(releases(kubeconfig)) == [2]


@pytest.mark.parametrize("kube_version", ["1.31", "1.37"])
def test_the_release_secret_is_a_valid_object(ansible, emulator, kubeconfig, tmp_path, kube_version):
    site(ansible)
    [release] = releases(kubeconfig).values()
    obj = release.secret
    obj.setdefault("apiVersion", "v1")
    obj.setdefault("kind", "Secret")
    for name in ko.SERVER_METADATA:
        obj["metadata"].pop(name, None)
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump(obj))
    proc = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", kube_version, str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
