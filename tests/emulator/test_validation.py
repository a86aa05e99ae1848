"""Validation: schema, names, labels, immutable fields and fieldValidation."""

import time

import pytest

from kube_emulator import Emulator
from support import Http, configmap, deployment, statefulset

CM = "/api/v1/namespaces/default/configmaps"
DEP = "/apis/apps/v1/namespaces/default/deployments"
STS = "/apis/apps/v1/namespaces/default/statefulsets"


def causes(reply):
    return {c["field"]: c for c in reply.body["details"]["causes"]}


def test_wrong_type_is_422_naming_the_field(http):
    body = deployment()
    body["spec"]["replicas"] = "three"
    reply = http.post(DEP, body)
    assert reply.status == 422 and reply.body["reason"] == "Invalid"
    assert "spec.replicas" in causes(reply)
    assert reply.body["message"].startswith('Deployment.apps "web" is invalid: spec.replicas: Invalid value')


def test_missing_required_field_is_422(http):
    body = deployment()
    del body["spec"]["template"]["spec"]["containers"][0]["name"]
    reply = http.post(DEP, body)
    assert reply.status == 422
    assert causes(reply)["spec.template.spec.containers[0].name"]["reason"] == "FieldValueRequired"


def test_enum_violation_is_422(http):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "protocol": "ICMP"}]}}
    reply = http.post("/api/v1/namespaces/default/services", svc)
    assert reply.status == 422 and "spec.ports[0].protocol" in causes(reply)


def test_int32_range_is_checked(http):
    assert http.post(DEP, deployment(replicas=2**31)).status == 422


@pytest.mark.parametrize("name", ["Upper", "under_score", "-lead", "a" * 254])
def test_invalid_object_names_are_422(http, name):
    reply = http.post(CM, configmap(name))
    assert reply.status == 422 and "metadata.name" in causes(reply)


def test_dotted_names_are_fine_for_configmaps_but_not_namespaces_or_services(http):
    assert http.post(CM, configmap("my.config")).status == 201
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "my.ns"}}
    assert http.post("/api/v1/namespaces", ns).status == 422
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}
    assert http.post("/api/v1/namespaces/default/services", svc).status == 422


def test_rbac_names_may_contain_colons(http):
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:edp:reader"}, "rules": []}
    assert http.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role).status == 201


@pytest.mark.parametrize("labels, field", [
    ({"app": "x" * 64}, "metadata.labels"),
    ({"app": "-bad"}, "metadata.labels"),
    ({"bad key": "v"}, "metadata.labels"),
    ({"Example.com/app": "v"}, "metadata.labels"),
])
def test_invalid_labels_are_422(http, labels, field):
    reply = http.post(CM, configmap("a", labels=labels))
    assert reply.status == 422 and field in causes(reply)


def test_valid_labels_and_annotations_pass(http):
    body = configmap("a", labels={"app.kubernetes.io/name": "x", "empty": "", "v": "A_b.c-1"})
    body["metadata"]["annotations"] = {"example.com/anything": "any value / with spaces"}
    assert http.post(CM, body).status == 201


def test_invalid_configmap_key_is_422(http):
    assert http.post(CM, configmap("a", data={"bad/key": "v"})).status == 422


def test_field_validation_strict_rejects_unknown_fields(http, emu):
    body = deployment()
    body["spec"]["replicaz"] = 3
    body["spec"]["template"]["spec"]["containers"][0]["imagez"] = "x"
    reply = http.post(DEP, body, query={"fieldValidation": "Strict"})
    assert reply.status == 422
    assert set(causes(reply)) == {"spec.replicaz", "spec.template.spec.containers[0].imagez"}
    assert emu.get_object("apps/v1", "Deployment", "web", "default") is None


def test_field_validation_strict_rejects_duplicate_fields(http):
    raw = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"a"},"data":{}}'
    reply = http.post(CM, raw, query={"fieldValidation": "Strict"})
    assert reply.status == 422 and 'duplicate field "name"' in reply.body["message"]


def test_field_validation_warn_drops_unknown_fields_with_a_warning_header(http):
    body = configmap("a")
    body["spec"] = {"nope": 1}
    for query in ({}, {"fieldValidation": "Warn"}):  # Warn is the default
        reply = http.post(CM, {**body, "metadata": {"name": f"a{len(query)}"}}, query=query)
        assert reply.status == 201
        assert "spec" not in reply.body
        assert reply.warnings == ['299 - "unknown field \\"spec\\""']


def test_field_validation_ignore_drops_unknown_fields_silently(http):
    body = configmap("a")
    body["bogus"] = True
    reply = http.post(CM, body, query={"fieldValidation": "Ignore"})
    assert reply.status == 201 and "bogus" not in reply.body and reply.warnings == []


def test_invalid_field_validation_value_is_400(http):
    assert http.post(CM, configmap("a"), query={"fieldValidation": "Loose"}).status == 400


def test_deployment_selector_is_immutable(http):
    http.post(DEP, deployment())
    changed = deployment()
    changed["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    changed["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    reply = http.put(f"{DEP}/web", changed)
    assert reply.status == 422
    assert "field is immutable" in causes(reply)["spec.selector"]["message"]


def test_job_template_is_immutable(http):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox:1"}]}}}}
    path = "/apis/batch/v1/namespaces/default/jobs"
    http.post(path, job)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}
    reply = http.patch(f"{path}/j", patch, "application/strategic-merge-patch+json")
    assert reply.status == 422 and "spec.template" in causes(reply)


def test_statefulset_forbids_updates_outside_the_mutable_fields(http):
    http.post(STS, statefulset())
    ok = http.patch(f"{STS}/db", {"spec": {"replicas": 3}}, "application/merge-patch+json")
    assert ok.status == 200
    bad = http.patch(f"{STS}/db", {"spec": {"serviceName": "other"}}, "application/merge-patch+json")
    assert bad.status == 422 and "Forbidden: updates to statefulset spec" in bad.body["message"]


def test_service_cluster_ip_is_immutable_but_kept_when_omitted(http):
    path = "/api/v1/namespaces/default/services"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    ip = http.post(path, svc).body["spec"]["clusterIP"]
    assert http.put(f"{path}/s", svc).body["spec"]["clusterIP"] == ip
    moved = {**svc, "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.99.99"}}
    assert http.put(f"{path}/s", moved).status == 422


def test_pvc_storage_may_grow_but_not_shrink_or_change_otherwise(http):
    path = "/api/v1/namespaces/default/persistentvolumeclaims"
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    http.post(path, pvc)
    merge = "application/merge-patch+json"
    assert http.patch(f"{path}/data", {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}, merge).status == 200
    assert http.patch(f"{path}/data", {"spec": {"resources": {"requests": {"storage": "1Gi"}}}}, merge).status == 422
    assert http.patch(f"{path}/data", {"spec": {"accessModes": ["ReadWriteMany"]}}, merge).status == 422


def test_immutable_configmap_data_cannot_change(http):
    body = configmap("a")
    body["immutable"] = True
    http.post(CM, body)
    reply = http.patch(f"{CM}/a", {"data": {"k": "other"}}, "application/merge-patch+json")
    assert reply.status == 422 and "data" in causes(reply)


@pytest.mark.parametrize("version", ["1.25", "1.37"])
def test_other_schema_versions_load(version):
    with Emulator(kube_version=version) as emu:
        reply = Http(emu.url).post("/apis/apps/v1/namespaces/default/deployments", deployment())
        assert reply.status == 201


def test_typical_create_and_patch_take_milliseconds(emu):
    http = Http(emu.url)
    http.post(DEP, deployment("warm"))
    start = time.perf_counter()
    for i in range(50):
        assert http.post(DEP, deployment(f"web{i}")).status == 201
        patch = {"spec": {"replicas": 3}}
        assert http.patch(f"{DEP}/web{i}", patch, "application/strategic-merge-patch+json").status == 200
    per_request = (time.perf_counter() - start) / 100
    assert per_request < 0.02, f"{per_request * 1000:.1f} ms per request"


def test_job_template_restart_policy_always_is_rejected(http):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"restartPolicy": "Always",
                                          "containers": [{"name": "c", "image": "busybox:1"}]}}}}
    reply = http.post("/apis/batch/v1/namespaces/default/jobs", job)
    assert reply.status == 422 and "spec.template.spec.restartPolicy" in causes(reply)
