"""PATCH: strategic merge, JSON merge (RFC 7386) and JSON patch (RFC 6902)."""

import pytest

from support import configmap, deployment

DEP = "/apis/apps/v1/namespaces/default/deployments"
CM = "/api/v1/namespaces/default/configmaps"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONP = "application/json-patch+json"

TWO_CONTAINERS = [
    {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
     "ports": [{"containerPort": 80}, {"containerPort": 9090}]},
    {"name": "sidecar", "image": "proxy:1"},
]


@pytest.fixture
def web(http):
    assert http.post(DEP, deployment(containers=TWO_CONTAINERS)).status == 201


def containers(http):
    return http.get(f"{DEP}/web").body["spec"]["template"]["spec"]["containers"]


def test_strategic_merge_changing_one_container_keeps_the_other(http, web):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
    assert http.patch(f"{DEP}/web", patch, SMP).status == 200
    by_name = {c["name"]: c for c in containers(http)}
    assert by_name["app"]["image"] == "app:2"
    assert by_name["sidecar"]["image"] == "proxy:1"
    assert [e["name"] for e in by_name["app"]["env"]] == ["A", "B"]  # nested list merged, not replaced


def test_merge_patch_replaces_lists_wholesale(http, web):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
    assert http.patch(f"{DEP}/web", patch, MERGE).status == 200
    assert containers(http) == [{"name": "app", "image": "app:2", **_container_defaults()}]


def _container_defaults():
    return {"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "resources": {}}


def test_strategic_merge_env_by_name_and_ports_by_container_port(http, web):
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "app", "env": [{"name": "B", "value": "changed"}, {"name": "C", "value": "3"}],
        "ports": [{"containerPort": 9090, "name": "metrics"}]}]}}}}
    http.patch(f"{DEP}/web", patch, SMP)
    app = containers(http)[0]
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "changed"}, {"name": "C", "value": "3"}]
    assert {p["containerPort"]: p.get("name") for p in app["ports"]} == {80: None, 9090: "metrics"}


def test_strategic_merge_patch_delete_directive_removes_one_element(http, web):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    http.patch(f"{DEP}/web", patch, SMP)
    assert [c["name"] for c in containers(http)] == ["app"]


def test_strategic_merge_patch_replace_directive_replaces_the_list(http, web):
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "x:1"}, {"$patch": "replace"}]}}}}
    http.patch(f"{DEP}/web", patch, SMP)
    assert [c["name"] for c in containers(http)] == ["only"]


def test_strategic_merge_set_element_order_and_retain_keys_are_accepted(http, web):
    # What kubectl sends: $setElementOrder for merged lists, $retainKeys for retainKeys structs.
    patch = {"spec": {
        "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
        "template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "app", "image": "app:3"}]}}}}
    reply = http.patch(f"{DEP}/web", patch, SMP)
    assert reply.status == 200
    assert reply.body["spec"]["strategy"] == {"type": "Recreate"}  # rollingUpdate dropped by $retainKeys
    assert [c["name"] for c in containers(http)] == ["sidecar", "app"]


def test_strategic_merge_delete_from_primitive_list(http):
    body = configmap("a")
    body["metadata"]["finalizers"] = ["a.example.com/x", "b.example.com/y"]
    http.post(CM, body)
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]}}
    assert http.patch(f"{CM}/a", patch, SMP).body["metadata"]["finalizers"] == ["b.example.com/y"]


def test_strategic_merge_null_deletes_a_map_key(http):
    http.post(CM, configmap("a", data={"x": "1", "y": "2"}))
    assert http.patch(f"{CM}/a", {"data": {"x": None}}, SMP).body["data"] == {"y": "2"}


def test_strategic_merge_on_custom_resource_is_415(emu_crds):
    from support import Http

    http = Http(emu_crds.url)
    sm = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m"},
          "spec": {"selector": {}, "endpoints": [{"port": "http"}]}}
    path = "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors"
    assert http.post(path, sm).status == 201
    assert http.patch(f"{path}/m", {"spec": {"jobLabel": "x"}}, SMP).status == 415
    reply = http.patch(f"{path}/m", {"spec": {"jobLabel": "x"}}, MERGE)
    assert reply.status == 200 and reply.body["spec"]["jobLabel"] == "x"


def test_merge_patch_rfc7386_semantics(http):
    http.post(CM, configmap("a", data={"x": "1", "y": "2"}, labels={"l": "1"}))
    reply = http.patch(f"{CM}/a", {"data": {"x": None, "z": "3"}, "metadata": {"labels": None}}, MERGE)
    assert reply.body["data"] == {"y": "2", "z": "3"}
    assert "labels" not in reply.body["metadata"]


def test_json_patch_operations(http):
    http.post(CM, configmap("a", data={"x": "1", "y": "2"}))
    ops = [
        {"op": "test", "path": "/data/x", "value": "1"},
        {"op": "add", "path": "/data/z", "value": "3"},
        {"op": "remove", "path": "/data/y"},
        {"op": "replace", "path": "/data/x", "value": "10"},
        {"op": "copy", "from": "/data/x", "path": "/data/copied"},
        {"op": "move", "from": "/data/z", "path": "/data/moved"},
        {"op": "add", "path": "/metadata/labels", "value": {"app": "v"}},
    ]
    reply = http.patch(f"{CM}/a", ops, JSONP)
    assert reply.status == 200
    assert reply.body["data"] == {"x": "10", "copied": "10", "moved": "3"}
    assert reply.body["metadata"]["labels"] == {"app": "v"}


def test_json_patch_escaped_pointer_and_array_append(http, web):
    ops = [{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "third", "image": "t:1"}},
           {"op": "add", "path": "/metadata/annotations", "value": {}},
           {"op": "add", "path": "/metadata/annotations/example.com~1note", "value": "hi"}]
    reply = http.patch(f"{DEP}/web", ops, JSONP)
    assert reply.status == 200
    assert reply.body["metadata"]["annotations"] == {"example.com/note": "hi"}
    assert [c["name"] for c in containers(http)] == ["app", "sidecar", "third"]


def test_json_patch_failed_test_is_422_and_changes_nothing(http):
    created = http.post(CM, configmap("a", data={"x": "1"})).body
    ops = [{"op": "replace", "path": "/data/x", "value": "2"}, {"op": "test", "path": "/data/x", "value": "1"}]
    reply = http.patch(f"{CM}/a", ops, JSONP)
    assert reply.status == 422
    assert http.get(f"{CM}/a").body == created


def test_json_patch_remove_of_missing_path_is_422(http):
    http.post(CM, configmap("a"))
    assert http.patch(f"{CM}/a", [{"op": "remove", "path": "/data/nope"}], JSONP).status == 422


def test_noop_patch_does_not_bump_resource_version(http, web):
    before = http.get(f"{DEP}/web").body
    for body, ctype in [({"spec": {"replicas": 2}}, SMP), ({"spec": {"replicas": 2}}, MERGE),
                        ([{"op": "replace", "path": "/spec/replicas", "value": 2}], JSONP)]:
        reply = http.patch(f"{DEP}/web", body, ctype)
        assert reply.status == 200
        assert reply.body["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert http.get(f"{DEP}/web").body == before


def test_patch_result_is_validated_like_a_create(http, web):
    reply = http.patch(f"{DEP}/web", {"spec": {"replicas": "many"}}, MERGE)
    assert reply.status == 422
    assert reply.body["details"]["causes"][0]["field"] == "spec.replicas"


def test_patch_with_unsupported_content_type_is_415(http, web):
    assert http.patch(f"{DEP}/web", {"spec": {}}, "application/json").status == 415


def test_patch_of_missing_object_is_404(http):
    assert http.patch(f"{CM}/nope", {"data": {}}, MERGE).status == 404


def test_strategic_merge_service_ports_by_port_and_volume_mounts_by_mount_path(http, web):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}}
    path = "/api/v1/namespaces/default/services"
    http.post(path, svc)
    reply = http.patch(f"{path}/s", {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}, SMP)
    assert [(p["port"], p["targetPort"]) for p in reply.body["spec"]["ports"]] == [(80, 80), (443, 8443)]

    mounts = {"spec": {"template": {"spec": {
        "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}],  # mounts need volumes
        "containers": [{"name": "app", "volumeMounts": [
            {"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/b"}]}]}}}}
    assert http.patch(f"{DEP}/web", mounts, SMP).status == 200
    change = {"spec": {"template": {"spec": {"containers": [{"name": "app", "volumeMounts": [
        {"mountPath": "/b", "readOnly": True}]}]}}}}
    app = http.patch(f"{DEP}/web", change, SMP).body["spec"]["template"]["spec"]["containers"][0]
    assert app["volumeMounts"] == [{"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/b", "readOnly": True}]
