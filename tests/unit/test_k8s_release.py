"""Releases (module_utils/k8s_release.py and the release steps of k8s_service.py), without Ansible.

The service tests run against an in-process API emulator (tests/emulator), whose request log
shows what each step sent.
"""

import base64
import hashlib
import json

import pytest

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_release as rel
from ansible_collections.edp.platform.plugins.module_utils import k8s_service as svc
from ansible_collections.edp.platform.plugins.module_utils.kube import KubeClient, load_config
from kube_emulator import Emulator

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "probe"}}
SETTINGS = svc.Settings(tenant="probe", environment="dev", namespace="probe", components=frozenset({"probe"}))
PROVENANCE = {"collection_version": "1.2.3", "inventory_commit": "a" * 40}


def release_settings(history=10):
    return rel.ReleaseSettings(namespace="probe", history=history, provenance=lambda: dict(PROVENANCE))


def configmap(name, value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "probe"},
            "data": {"a": value}}


def secret(name="db", generate=False, **data):
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "probe"},
           "stringData": dict(data)}
    if generate:
        obj["metadata"]["annotations"] = {ko.ANNOTATION_GENERATE: "password"}
    return obj


def pvc(name="data"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "probe"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def deployment(image="nginx:1.27"):
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "probe"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def desired(*objects, component="probe"):
    return svc.desired_objects({component: list(objects)}, "probe", "dev")


@pytest.fixture
def emu():
    with Emulator(namespace_deletion_delay=0) as emulator:
        yield emulator


@pytest.fixture
def service(emu, tmp_path):
    client = KubeClient(load_config(str(emu.write_kubeconfig(tmp_path / "kubeconfig"))))
    service = svc.ApplyService(client)
    yield service
    service.close()


def apply(service, objects, settings=SETTINGS, history=10):
    return svc.converge(service, settings, objects, release=release_settings(history))


def releases(service):
    return rel.list_releases(service, SETTINGS, "probe")


def actions(report):
    return {(i["kind"], i["name"]): i["action"] for i in report.objects}


# -- pure functions --------------------------------------------------------------------------
def test_a_release_masks_every_secret_value_and_keeps_its_keys():
    [obj] = desired(secret(password="hunter2-long-password", user="app"))
    kept = rel.masked(obj)
    assert kept["data"] == {"password": ko.MASK, "user": ko.MASK}
    assert obj["data"]["password"] == base64.b64encode(b"hunter2-long-password").decode()  # the input untouched


def test_the_content_round_trips_and_equal_content_gives_equal_bytes():
    content = {"revision": 1, "objects": [configmap("c")]}
    encoded = rel.encode(content)
    assert encoded == rel.encode(json.loads(json.dumps(content)))
    secret_obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {rel.DATA_KEY: encoded}}
    assert rel.decode(secret_obj) == content


def test_the_hash_is_the_sha256_of_the_canonical_json_of_the_applied_set():
    objects = [configmap("b"), configmap("a")]
    canonical = json.dumps(objects, sort_keys=True, separators=(",", ":"))
    assert rel.applied_hash(objects) == hashlib.sha256(canonical.encode()).hexdigest()
    assert rel.applied_hash([configmap("b", "2"), configmap("a")]) != rel.applied_hash(objects)


def test_an_unreadable_release_says_which():
    broken = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "edp-release.v2", "namespace": "probe"},
              "data": {rel.DATA_KEY: "bm90IGd6aXA="}}
    with pytest.raises(rel.ReleaseError, match="^Secret probe/edp-release.v2 cannot be read: "):
        rel.decode(broken)


def test_a_role_run_on_its_own_records_the_whole_tenant():
    previous = desired(configmap("theirs"), component="other") + desired(configmap("old"))
    merged = rel.next_objects(previous, desired(configmap("new")), frozenset({"probe"}))
    assert [o["metadata"]["name"] for o in merged] == ["theirs", "new"]


def test_pick_takes_the_previous_release_by_default_and_names_the_kept_ones_when_missing():
    found = [rel.Release({"metadata": {"labels": {rel.LABEL_REVISION: str(n)}}, "type": rel.RELEASE_TYPE})
             for n in (3, 4, 5)]
    assert rel.pick(found, 0, "probe", "probe")[0].revision == 4
    assert rel.pick(found, 3, "probe", "probe")[0].revision == 3
    with pytest.raises(rel.ReleaseError) as caught:
        rel.pick(found, 1, "probe", "probe-dev")
    assert str(caught.value) == ("tenant probe has no release 1 in namespace probe-dev (releases kept: 3, 4, 5; "
                                 "edp_release_history sets how many are kept)")
    with pytest.raises(rel.ReleaseError) as caught:
        rel.pick(found[:1], 0, "probe", "probe-dev")
    assert str(caught.value) == ("tenant probe has no release before revision 3 in namespace probe-dev "
                                 "(releases kept: 3)")
    with pytest.raises(rel.ReleaseError, match="^tenant probe has no release in namespace probe-dev: "):
        rel.pick([], 0, "probe", "probe-dev")


def test_collection_version_is_read_from_galaxy_yml_or_the_manifest(tmp_path):
    (tmp_path / "galaxy.yml").write_text("namespace: edp\nname: platform\nversion: 2.5.0\n")
    assert rel.collection_version(str(tmp_path)) == "2.5.0"
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "2.6.0"}}))
    assert rel.collection_version(str(tmp_path)) == "2.6.0"


def test_an_inventory_outside_git_records_no_commit(tmp_path):
    assert rel.git_commit(str(tmp_path)) == {}
    assert rel.git_commit(None) == {}


# -- recording -------------------------------------------------------------------------------
def test_a_run_that_changes_records_a_release_and_a_rerun_records_nothing(service, emu):
    objects = desired(NS, configmap("c"), secret(password="s3cret-value-long"))
    report = apply(service, objects)
    assert report.release["revision"] == 1 and report.release["secret"] == "edp-release.v1"
    [first] = releases(service)
    content = first.content
    assert content["revision"] == 1 and content["source"] == "site" and content["tenant"] == "probe"
    assert content["collection_version"] == "1.2.3" and content["inventory_commit"] == "a" * 40
    assert content["hash"] == rel.applied_hash(content["objects"])
    assert "s3cret" not in json.dumps(content) and base64.b64encode(b"s3cret-value-long").decode() \
        not in json.dumps(content)
    assert [o["metadata"]["name"] for o in content["objects"]] == ["probe", "db", "c"]
    assert first.secret["metadata"]["labels"][rel.LABEL_REVISION] == "1"
    assert ko.LABEL_ROLE not in first.secret["metadata"]["labels"]  # out of every prune's reach
    emu.reset_requests()
    again = apply(service, desired(NS, configmap("c"), secret(password="s3cret-value-long")))
    assert again.release is None
    assert emu.writes() == []
    assert [r["method"] for r in emu.requests()].count("GET") == len(emu.requests())


def test_a_change_costs_one_list_of_the_releases_and_one_write_and_a_rerun_reads_none(service, emu):
    apply(service, desired(NS, configmap("c"), secret(password="x" * 20)))
    emu.reset_requests()
    apply(service, desired(NS, configmap("c", "2"), secret(password="x" * 20)))
    secret_lists = [r["query"] for r in emu.requests() if r["method"] == "GET" and r["path"].endswith("/secrets")]
    assert secret_lists == [{"labelSelector": "!" + rel.LABEL_REVISION}, {"labelSelector": rel.LABEL_REVISION}]
    writes = [(r["method"], r["path"]) for r in emu.writes()]
    assert writes == [("PATCH", "/api/v1/namespaces/probe/configmaps/c"),
                      ("PATCH", "/api/v1/namespaces/probe/secrets/edp-release.v2")]
    emu.reset_requests()
    apply(service, desired(NS, configmap("c", "2"), secret(password="x" * 20)))
    secret_lists = [r["query"] for r in emu.requests() if r["method"] == "GET" and r["path"].endswith("/secrets")]
    assert secret_lists == [{"labelSelector": "!" + rel.LABEL_REVISION}]
    assert emu.writes() == []


def test_only_the_last_releases_are_kept(service):
    for value in "1234":
        apply(service, desired(NS, configmap("c", value)), history=2)
    assert [r.revision for r in releases(service)] == [3, 4]


def test_the_apply_prune_never_takes_a_release(service):
    apply(service, desired(NS, configmap("c")))
    apply(service, desired(NS, configmap("d")))
    assert [r.revision for r in releases(service)] == [1, 2]


def test_check_mode_says_which_release_would_be_recorded_and_writes_none(service, emu):
    apply(service, desired(NS, configmap("c")))
    emu.reset_requests()
    report = apply(service, desired(NS, configmap("c", "2")), settings=svc.replace(SETTINGS, check=True))
    assert report.release == {"revision": 2, "recorded": False}
    assert emu.writes() == []


# -- rollback --------------------------------------------------------------------------------
def rollback(service, revision=0, check=False):
    return svc.rollback(service, svc.replace(SETTINGS, check=check), release_settings(), revision)


def test_rollback_reapplies_prunes_keeps_secrets_and_volumes_and_records_itself(service, emu):
    apply(service, desired(NS, configmap("c"), deployment(), secret(password="p" * 20), pvc()))
    first_secret = emu.get_object("v1", "Secret", "db", "probe")
    apply(service, desired(NS, configmap("c"), deployment("nginx:1.28"), configmap("added"),
                           secret(password="p" * 20), secret("extra", token="t" * 20), pvc(), pvc("more")))
    target, report = rollback(service)
    assert target.revision == 1
    assert actions(report) == {
        ("Namespace", "probe"): "unchanged", ("ConfigMap", "c"): "unchanged",
        ("Deployment", "web"): "updated", ("ConfigMap", "added"): "deleted",
        ("PersistentVolumeClaim", "more"): "orphaned", ("Secret", "extra"): "kept"}
    assert emu.get_object("apps/v1", "Deployment", "web", "probe")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "nginx:1.27"
    assert emu.get_object("v1", "ConfigMap", "added", "probe") is None
    assert emu.get_object("v1", "Secret", "db", "probe")["data"] == first_secret["data"]
    assert report.release["revision"] == 3 and report.release["rollback_of"] == 1
    third = releases(service)[-1]
    assert third.content["source"] == "rollback" and third.content["rollback_of"] == 1
    assert third.content["hash"] == releases(service)[0].content["hash"]  # the same applied set as release 1
    emu.reset_requests()
    _, again = rollback(service, revision=1)
    assert emu.writes() == [] and again.release is None


def test_rollback_in_check_mode_writes_nothing(service, emu):
    apply(service, desired(NS, configmap("c")))
    apply(service, desired(NS, configmap("c", "2")))
    emu.reset_requests()
    _, report = rollback(service, check=True)
    assert actions(report)[("ConfigMap", "c")] == "updated"
    assert report.release == {"revision": 3, "recorded": False}
    assert emu.writes() == []
    assert emu.get_object("v1", "ConfigMap", "c", "probe")["data"] == {"a": "2"}


def test_rollback_to_a_revision_not_kept_fails_before_any_write(service, emu):
    apply(service, desired(NS, configmap("c")))
    emu.reset_requests()
    with pytest.raises(rel.ReleaseError) as caught:
        rollback(service, revision=7)
    assert str(caught.value) == ("tenant probe has no release 7 in namespace probe (releases kept: 1; "
                                 "edp_release_history sets how many are kept)")
    assert emu.writes() == []


def test_rollback_refuses_when_a_secret_of_the_release_is_gone(service, emu):
    apply(service, desired(NS, configmap("c"), secret(password="p" * 20)))
    apply(service, desired(NS, configmap("c", "2")))  # the Secret pruned with release 2
    emu.reset_requests()
    with pytest.raises(svc.ApplyError) as caught:
        rollback(service)
    assert str(caught.value) == ("nothing was changed: Secret probe/db is not in the cluster, and a release keeps "
                                 "no Secret value: run site.yml to make it again")
    assert emu.writes() == []


def test_rollback_leaves_a_grown_volume_as_it_is_and_makes_one_that_is_gone(service, emu):
    small, big = pvc(), pvc()
    big["spec"]["resources"]["requests"]["storage"] = "2Gi"
    apply(service, desired(NS, small, pvc("scratch")))
    apply(service, desired(NS, big))
    service.client.request("DELETE", "/api/v1/namespaces/probe/persistentvolumeclaims/scratch")
    _, report = rollback(service)
    assert ("PersistentVolumeClaim", "data") not in actions(report)
    assert actions(report)[("PersistentVolumeClaim", "scratch")] == "created"
    assert emu.get_object("v1", "PersistentVolumeClaim", "data", "probe")["spec"]["resources"]["requests"][
        "storage"] == "2Gi"


def test_a_namespace_not_there_yet_has_no_release(service):
    assert releases(service) == []


def test_history_lists_each_release_without_its_objects(service):
    apply(service, desired(NS, configmap("c")))
    apply(service, desired(NS, configmap("c", "2")))
    found = svc.history(service, SETTINGS, "probe")
    assert [(r["revision"], r["source"], r["current"], r["objects"]) for r in found] == [
        (1, "site", False, 2), (2, "site", True, 2)]
    assert rel.line(found[1]).startswith("revision 2 (current), ")
    assert rel.line(found[1]).endswith(", collection 1.2.3, inventory aaaaaaaaaaaa, 2 objects, sha256 %s"
                                       % found[1]["hash"][:16])
