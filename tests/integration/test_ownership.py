"""One tenant can never overwrite another: the apply path refuses, before any write, to change
an object labelled for another tenant (or made by hand, unless adopted), and volume changes
the API server would refuse only after everything before them was written.

These are the checks that need the live cluster; the ones an inventory alone can fail
(two tenants of one inventory in one namespace) are in test_bad_inputs.py.
"""

import json
import shutil
import urllib.request

from conftest import REPO, failure_messages

NS = "finance-dev"


def snapshot(emulator, namespace):
    """Every object in the namespace, and the Namespace itself, exactly as stored."""
    objects = {"Namespace/" + namespace: emulator.get_object("v1", "Namespace", namespace)}
    for key in emulator.store.namespaces_in_use(namespace):
        for obj in emulator.store.list(key, namespace):
            objects["%s/%s" % (obj["kind"], obj["metadata"]["name"])] = obj
    return json.dumps(objects, sort_keys=True, default=str)


def api(emulator, method, path, body=None, content_type="application/json"):
    req = urllib.request.Request(emulator.url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": content_type})
    return json.loads(urllib.request.urlopen(req).read() or b"{}")


def relabel(emulator, path, labels):
    api(emulator, "PATCH", path, {"metadata": {"labels": labels}}, "application/merge-patch+json")


def converge(ansible, *args, **extra_vars):
    run = ansible.playbook("site.yml", "dev", *args, extra_vars=extra_vars or None)
    assert run.rc == 0, failure_messages(run)
    return run


def test_a_tenant_of_another_inventory_pointed_at_a_namespace_changes_nothing_in_it(ansible, emulator, tmp_path):
    converge(ansible)
    before = snapshot(emulator, NS)
    # Another inventory, same cluster: its tenant 'sales' has a typo'd edp_namespace.
    inventory = tmp_path / "other"
    shutil.copytree(REPO / "inventories" / "dev", inventory)
    (inventory / "hosts.yml").write_text("all:\n  children:\n    tenants:\n      hosts:\n        sales:\n")
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "host_vars" / "sales.yml").write_text("---\nedp_namespace: %s\n" % NS)
    emulator.reset_requests()
    run = ansible.playbook("site.yml", str(inventory))
    assert run.rc != 0
    messages = failure_messages(run)
    assert "nothing was changed: namespace finance-dev holds the objects of tenant finance of environment dev" \
        in messages, messages
    assert ("Namespace finance-dev belongs to tenant finance of environment dev, not to tenant sales of "
            "environment dev: refusing to change it") in messages, messages
    assert ("Secret finance-dev/postgres-credentials belongs to tenant finance of environment dev, not to "
            "tenant sales of environment dev") in messages, messages
    assert emulator.writes() == []
    assert snapshot(emulator, NS) == before


def test_an_object_labelled_for_another_tenant_is_neither_changed_nor_pruned(ansible, emulator):
    converge(ansible)
    # A Secret of marketing's namespace claims to be finance's, and a ConfigMap of finance's
    # that marketing does not render (so would prune if it were marketing's) sits beside it.
    relabel(emulator, "/api/v1/namespaces/marketing-dev/secrets/airflow-secrets", {"edp.platform/tenant": "finance"})
    api(emulator, "POST", "/api/v1/namespaces/marketing-dev/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "finance-notes", "namespace": "marketing-dev", "labels": {
            "app.kubernetes.io/managed-by": "edp.platform", "edp.platform/tenant": "finance",
            "edp.platform/environment": "dev", "edp.platform/role": "airflow"}},
        "data": {"a": "b"}})
    before = snapshot(emulator, "marketing-dev")
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "-l", "marketing")
    assert run.rc != 0
    assert ("nothing was changed: Secret marketing-dev/airflow-secrets belongs to tenant finance of "
            "environment dev, not to tenant marketing of environment dev: refusing to change it") \
        in failure_messages(run), failure_messages(run)
    assert emulator.writes() == []
    assert snapshot(emulator, "marketing-dev") == before
    # Given back to marketing, the apply goes on and still leaves finance's ConfigMap alone.
    relabel(emulator, "/api/v1/namespaces/marketing-dev/secrets/airflow-secrets", {"edp.platform/tenant": "marketing"})
    converge(ansible, "-l", "marketing")
    assert emulator.get_object("v1", "ConfigMap", "finance-notes", "marketing-dev") is not None


def test_objects_made_by_hand_stop_the_apply_until_adopted_and_keep_their_secrets(ansible, emulator):
    api(emulator, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": NS}})
    api(emulator, "POST", "/api/v1/namespaces/%s/secrets" % NS, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "postgres-credentials"},
        "stringData": {"superuser-password": "made-by-hand-0123456789"}})
    before = snapshot(emulator, NS)
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "-l", "finance")
    assert run.rc != 0
    messages = failure_messages(run)
    for ident in ("Namespace finance-dev", "Secret finance-dev/postgres-credentials"):
        assert ("%s exists and was not made by edp.platform (it has no app.kubernetes.io/managed-by=edp.platform "
                "label): refusing to change it for tenant finance of environment dev; set edp_adopt: true to take "
                "over objects made by hand" % ident) in messages, messages
    assert emulator.writes() == []
    assert snapshot(emulator, NS) == before

    run = converge(ansible, "-l", "finance", edp_adopt=True)
    adopted = [o for o in run.task_results("Render and apply every role's objects in one call")["finance"]["objects"]
               if o.get("adopted")]
    assert sorted(o["name"] for o in adopted) == [NS, "postgres-credentials"]
    secret = emulator.get_object("v1", "Secret", "postgres-credentials", NS)
    import base64
    assert base64.b64decode(secret["data"]["superuser-password"]).decode() == "made-by-hand-0123456789"
    assert secret["metadata"]["labels"]["edp.platform/tenant"] == "finance"
    assert "airflow-password" in secret["data"]  # the key it lacked was generated
    assert converge(ansible, "-l", "finance").changed() == 0


def test_a_volume_that_would_shrink_or_change_class_is_refused_before_any_write(ansible, emulator):
    converge(ansible, "-l", "finance", postgres_storage_size="20Gi")
    before = snapshot(emulator, NS)
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "-l", "finance",
                           extra_vars={"postgres_storage_size": "5Gi", "airflow_config": {"X": "changed"}})
    assert run.rc != 0
    assert ("PersistentVolumeClaim finance-dev/postgres-data: postgres_storage_size asks for 5Gi, but the volume "
            "has 20Gi: a volume cannot shrink") in failure_messages(run), failure_messages(run)
    assert emulator.writes() == []
    assert snapshot(emulator, NS) == before



def test_a_volume_grows_only_where_its_class_allows_expansion_and_keeps_its_class(ansible, emulator):
    for name, expands in (("rigid", False), ("elastic", True)):
        api(emulator, "POST", "/apis/storage.k8s.io/v1/storageclasses", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
            "provisioner": "example.com/csi", "allowVolumeExpansion": expands})
    converge(ansible, "-l", "finance", edp_storage_class="rigid", postgres_storage_size="20Gi")
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "-l", "finance",
                           extra_vars={"edp_storage_class": "rigid", "postgres_storage_size": "40Gi"})
    assert run.rc != 0
    assert ("PersistentVolumeClaim finance-dev/postgres-data: postgres_storage_size asks for 40Gi, but storage "
            "class rigid does not allow volume expansion (allowVolumeExpansion), so it stays at 20Gi") \
        in failure_messages(run), failure_messages(run)
    assert emulator.writes() == []

    converge(ansible, "-l", "marketing", edp_storage_class="elastic", postgres_storage_size="20Gi")
    converge(ansible, "-l", "marketing", edp_storage_class="elastic", postgres_storage_size="40Gi")
    pvc = emulator.get_object("v1", "PersistentVolumeClaim", "postgres-data", "marketing-dev")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "40Gi"

    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "-l", "marketing",
                           extra_vars={"edp_storage_class": "rigid", "postgres_storage_size": "40Gi"})
    assert run.rc != 0
    assert ("PersistentVolumeClaim marketing-dev/postgres-data: edp_storage_class is rigid, but the volume was "
            "made in storage class elastic, which cannot change") in failure_messages(run), failure_messages(run)
    assert emulator.writes() == []
