"""CRUD verbs: status codes and Status bodies like the real API server."""

import time

from kube_emulator import Emulator
from support import Http, configmap, deployment

CM = "/api/v1/namespaces/default/configmaps"


def test_create_returns_201_with_server_populated_metadata(http):
    reply = http.post(CM, configmap("a"))
    assert reply.status == 201
    meta = reply.body["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"].isdigit()
    assert meta["generation"] == 1


def test_duplicate_create_is_409_already_exists(http):
    assert http.post(CM, configmap("a")).status == 201
    reply = http.post(CM, configmap("a"))
    assert reply.status == 409
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "AlreadyExists"
    assert reply.body["details"] == {"name": "a", "kind": "configmaps"}
    assert reply.body["message"] == 'configmaps "a" already exists'


def test_get_missing_object_is_404_not_found_status(http):
    reply = http.get(f"{CM}/nope")
    assert reply.status == 404
    assert reply.body["reason"] == "NotFound" and reply.body["code"] == 404
    assert reply.body["message"] == 'configmaps "nope" not found'


def test_get_missing_deployment_names_the_group(http):
    reply = http.get("/apis/apps/v1/namespaces/default/deployments/nope")
    assert reply.body["message"] == 'deployments.apps "nope" not found'
    assert reply.body["details"]["group"] == "apps"


def test_create_in_missing_namespace_is_404_namespace_not_found(http):
    reply = http.post("/api/v1/namespaces/ghost/configmaps", configmap("a", namespace="ghost"))
    assert reply.status == 404
    assert reply.body["message"] == 'namespaces "ghost" not found'


def test_namespace_mismatch_between_body_and_path_is_400(http):
    reply = http.post(CM, configmap("a", namespace="kube-system"))
    assert reply.status == 400


def test_put_replaces_and_bumps_resource_version(http):
    created = http.post(CM, configmap("a")).body
    created["data"] = {"k": "changed"}
    reply = http.put(f"{CM}/a", created)
    assert reply.status == 200
    assert reply.body["data"] == {"k": "changed"}
    assert int(reply.body["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_put_with_stale_resource_version_is_409_conflict(http):
    created = http.post(CM, configmap("a")).body
    fresh = dict(created, data={"k": "1"})
    assert http.put(f"{CM}/a", fresh).status == 200
    stale = dict(created, data={"k": "2"})  # still carries the old resourceVersion
    reply = http.put(f"{CM}/a", stale)
    assert reply.status == 409 and reply.body["reason"] == "Conflict"
    assert "the object has been modified" in reply.body["message"]


def test_put_of_missing_object_is_404(http):
    assert http.put(f"{CM}/a", configmap("a")).status == 404


def test_put_with_name_differing_from_url_is_400(http):
    http.post(CM, configmap("a"))
    assert http.put(f"{CM}/a", configmap("b")).status == 400


def test_noop_replace_keeps_resource_version(http):
    created = http.post(CM, configmap("a")).body
    reply = http.put(f"{CM}/a", configmap("a"))
    assert reply.status == 200
    assert reply.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_generation_bumps_only_when_spec_changes(http):
    path = "/apis/apps/v1/namespaces/default/deployments"
    http.post(path, deployment())
    labelled = deployment()
    labelled["metadata"]["labels"] = {"team": "a"}
    assert http.put(f"{path}/web", labelled).body["metadata"]["generation"] == 1
    scaled = deployment(replicas=5)
    assert http.put(f"{path}/web", scaled).body["metadata"]["generation"] == 2


def test_delete_returns_success_status_then_object_is_gone(http):
    http.post(CM, configmap("a"))
    reply = http.delete(f"{CM}/a")
    assert reply.status == 200
    assert reply.body["status"] == "Success" and reply.body["details"]["name"] == "a"
    assert http.get(f"{CM}/a").status == 404
    assert http.delete(f"{CM}/a").status == 404


def test_delete_with_invalid_propagation_policy_is_400(http):
    http.post(CM, configmap("a"))
    assert http.delete(f"{CM}/a", query={"propagationPolicy": "Sideways"}).status == 400
    assert http.delete(f"{CM}/a", query={"propagationPolicy": "Foreground"}).status == 200


def test_deleting_a_namespace_terminates_it_then_deletes_its_contents(http, emu):
    http.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    http.post("/api/v1/namespaces/team/configmaps", configmap("a", namespace="team"))
    reply = http.delete("/api/v1/namespaces/team")
    assert reply.status == 200 and reply.body["status"]["phase"] == "Terminating"
    # Like the namespace controller: contents stay deletable for a moment, new ones are refused.
    refused = http.post("/api/v1/namespaces/team/configmaps", configmap("b", namespace="team"))
    assert refused.status == 403 and "being terminated" in refused.body["message"]
    deadline = time.monotonic() + 5
    while http.get("/api/v1/namespaces/team").status != 404:
        assert time.monotonic() < deadline, "namespace was never removed"
        time.sleep(0.05)
    assert emu.get_object("v1", "ConfigMap", "a", "team") is None


def test_namespace_deletion_delay_zero_cascades_within_the_request():
    with Emulator(namespace_deletion_delay=0) as emu:
        http = Http(emu.url)
        http.post("/api/v1/namespaces/default/configmaps", configmap("a"))
        assert http.delete("/api/v1/namespaces/default").status == 200
        assert http.get("/api/v1/namespaces/default").status == 404
        assert emu.get_object("v1", "ConfigMap", "a", "default") is None


def test_generate_name_creates_unique_names(http):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "job-"}, "data": {}}
    first, second = http.post(CM, body).body, http.post(CM, body).body
    assert first["metadata"]["name"].startswith("job-")
    assert first["metadata"]["name"] != second["metadata"]["name"]


def test_missing_name_is_422_required(http):
    reply = http.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert reply.status == 422
    assert reply.body["details"]["causes"][0]["field"] == "metadata.name"


def test_list_across_all_namespaces(http):
    http.post(CM, configmap("a"))
    http.post("/api/v1/namespaces/kube-system/configmaps", configmap("b", namespace="kube-system"))
    reply = http.get("/api/v1/configmaps")
    assert reply.body["kind"] == "ConfigMapList"
    names = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in reply.body["items"]}
    assert names == {("default", "a"), ("kube-system", "b")}


def test_list_pagination_with_limit_and_continue(http):
    for i in range(5):
        http.post(CM, configmap(f"cm{i}"))
    first = http.get(CM, query={"limit": "2"}).body
    assert len(first["items"]) == 2 and first["metadata"]["remainingItemCount"] == 3
    rest = http.get(CM, query={"limit": "10", "continue": first["metadata"]["continue"]}).body
    assert [i["metadata"]["name"] for i in rest["items"]] == ["cm2", "cm3", "cm4"]


def test_field_selector_on_name_and_namespace(http):
    http.post(CM, configmap("a"))
    http.post(CM, configmap("b"))
    reply = http.get("/api/v1/configmaps", query={"fieldSelector": "metadata.name=b,metadata.namespace=default"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["b"]
    reply = http.get(CM, query={"fieldSelector": "metadata.name!=b"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["a"]
    assert http.get(CM, query={"fieldSelector": "spec.foo=x"}).status == 400


def test_delete_collection_by_label(http):
    http.post(CM, configmap("a", labels={"tier": "x"}))
    http.post(CM, configmap("b", labels={"tier": "y"}))
    reply = http.delete(CM, query={"labelSelector": "tier=x"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["a"]
    assert [i["metadata"]["name"] for i in http.get(CM).body["items"]] == ["b"]


def test_unknown_resource_path_is_404(http):
    assert http.get("/apis/apps/v1/namespaces/default/widgets").status == 404
    assert http.get("/apis/nope.example.com/v1/things").status == 404


def test_scale_subresource_reads_and_writes_replicas(http):
    path = "/apis/apps/v1/namespaces/default/deployments"
    http.post(path, deployment(replicas=2))
    scale = http.get(f"{path}/web/scale").body
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    reply = http.patch(f"{path}/web/scale", {"spec": {"replicas": 4}}, "application/merge-patch+json")
    assert reply.status == 200 and reply.body["spec"]["replicas"] == 4
    assert http.get(f"{path}/web").body["status"]["readyReplicas"] == 4


def test_pod_exec_is_rejected_and_log_is_empty(http):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    http.post("/api/v1/namespaces/default/pods", pod)
    assert http.get("/api/v1/namespaces/default/pods/p/log").status == 200
    assert http.post("/api/v1/namespaces/default/pods/p/exec", {}).status == 400
