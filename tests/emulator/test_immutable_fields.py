"""Fields a real server refuses to change on update (``validation.validate_update``).

Each case creates an object, then merge-patches it twice: the forbidden change is a
422 naming the field; an allowed change of the same object goes through.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from support import deployment, statefulset

MERGE = "application/merge-patch+json"
NS = "default"


def _job(manual: bool = False) -> dict:
    spec: dict = {"template": {"metadata": {"labels": {"job": "j"}},
                               "spec": {"restartPolicy": "Never",
                                        "containers": [{"name": "main", "image": "busybox:1.36"}]}}}
    if manual:
        spec.update(manualSelector=True, selector={"matchLabels": {"job": "j"}})
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": NS}, "spec": spec}


def _pvc() -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}


def _secret(**extra) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": NS},
            "data": {"k": "dmFsdWU="}, **extra}


def _sts_with_claims() -> dict:
    sts = statefulset()
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return sts


PATHS = {
    "Job": f"/apis/batch/v1/namespaces/{NS}/jobs",
    "Deployment": f"/apis/apps/v1/namespaces/{NS}/deployments",
    "StatefulSet": f"/apis/apps/v1/namespaces/{NS}/statefulsets",
    "PersistentVolumeClaim": f"/api/v1/namespaces/{NS}/persistentvolumeclaims",
    "Service": f"/api/v1/namespaces/{NS}/services",
    "Secret": f"/api/v1/namespaces/{NS}/secrets",
    "ConfigMap": f"/api/v1/namespaces/{NS}/configmaps",
    "RoleBinding": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings",
    "ResourceQuota": f"/api/v1/namespaces/{NS}/resourcequotas",
}

_IMAGE = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]}}}}


@dataclass
class Change:
    id: str
    obj: dict
    bad: dict        # merge patch the server refuses
    good: dict       # merge patch it accepts
    field: str
    message: str


CHANGES = [
    Change("job-template", _job(), _IMAGE, {"spec": {"activeDeadlineSeconds": 600}},
           "spec.template", "field is immutable"),
    Change("job-selector", _job(manual=True),
           {"spec": {"selector": {"matchLabels": {"job": "j", "x": "y"}},
                     "template": {"metadata": {"labels": {"x": "y"}}}}},
           {"spec": {"parallelism": 2}}, "spec.selector", "field is immutable"),
    Change("job-completions", _job(), {"spec": {"completions": 3}}, {"spec": {"backoffLimit": 2}},
           "spec.completions", "Invalid value: 3: field is immutable"),
    Change("deployment-selector", deployment(),
           {"spec": {"selector": {"matchLabels": {"app": "web", "v": "2"}},
                     "template": {"metadata": {"labels": {"v": "2"}}}}},
           {"spec": {"replicas": 5, "template": {"metadata": {"labels": {"v": "2"}}}}},
           "spec.selector", "field is immutable"),
    Change("statefulset-selector", statefulset(),
           {"spec": {"selector": {"matchLabels": {"app": "db", "v": "2"}},
                     "template": {"metadata": {"labels": {"v": "2"}}}}},
           {"spec": {"replicas": 3}}, "spec.selector", "field is immutable"),
    Change("statefulset-service-name", statefulset(), {"spec": {"serviceName": "other"}},
           {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}}},
           "spec", "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                   "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                   "are forbidden"),
    Change("statefulset-claim-templates", _sts_with_claims(),
           {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
               "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}]}},
           {"spec": {"minReadySeconds": 5, "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}},
           "spec", "updates to statefulset spec for fields other than"),
    Change("pvc-shrink", _pvc(), {"spec": {"resources": {"requests": {"storage": "1Gi"}}}},
           {"spec": {"resources": {"requests": {"storage": "3Gi"}}}},
           "spec.resources.requests.storage", "Forbidden: field can not be less than previous value"),
    Change("pvc-access-modes", _pvc(), {"spec": {"accessModes": ["ReadWriteMany"]}},
           {"spec": {"resources": {"requests": {"storage": "2048Mi"}}}},
           "spec", "Forbidden: spec is immutable after creation except resources.requests and "
                   "volumeAttributesClassName for bound claims"),
    Change("pvc-storage-class", _pvc(), {"spec": {"storageClassName": "fast"}},
           {"metadata": {"labels": {"tier": "db"}}}, "spec", "spec is immutable after creation"),
    Change("service-cluster-ip",
           {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
            "spec": {"ports": [{"port": 80}]}},
           {"spec": {"clusterIP": "10.96.0.250"}}, {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
           "spec.clusterIP", "field is immutable"),
    Change("secret-immutable-data", _secret(immutable=True), {"data": {"k": "b3RoZXI="}},
           {"metadata": {"labels": {"a": "b"}}}, "data", "Forbidden: field is immutable when `immutable` is set"),
    Change("secret-immutable-flag", _secret(immutable=True), {"immutable": False},
           {"metadata": {"annotations": {"a": "b"}}}, "immutable",
           "Forbidden: field is immutable when `immutable` is set"),
    Change("configmap-immutable-data",
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS},
            "data": {"a": "1"}, "immutable": True},
           {"data": {"a": "2"}}, {"metadata": {"labels": {"a": "b"}}}, "data",
           "field is immutable when `immutable` is set"),
    Change("secret-type", _secret(), {"type": "kubernetes.io/basic-auth", "data": {"username": "dQ=="}},
           {"data": {"k": "b3RoZXI="}}, "type", 'Invalid value: "kubernetes.io/basic-auth": field is immutable'),
    Change("rolebinding-role-ref",
           {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "a"}]},
           {"roleRef": {"name": "writer"}}, {"subjects": [{"kind": "ServiceAccount", "name": "b"}]},
           "roleRef", "cannot change roleRef"),
    Change("resourcequota-scopes",
           {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": NS},
            "spec": {"hard": {"pods": "10"}, "scopes": ["NotTerminating"]}},
           {"spec": {"scopes": ["Terminating"]}}, {"spec": {"hard": {"pods": "20"}}},
           "spec.scopes", "field is immutable"),
]


def _create(http, change: Change) -> str:
    obj = copy.deepcopy(change.obj)
    reply = http.post(PATHS[obj["kind"]], obj)
    assert reply.status == 201, reply.body
    return f'{PATHS[obj["kind"]]}/{obj["metadata"]["name"]}'


@pytest.mark.parametrize("change", CHANGES, ids=[c.id for c in CHANGES])
def test_forbidden_change_is_422_naming_the_field(http, change):
    path = _create(http, change)
    reply = http.patch(path, change.bad, MERGE)
    assert reply.status == 422, reply.body
    causes = {c["field"]: c["message"] for c in reply.body["details"]["causes"]}
    assert change.field in causes, causes
    assert change.message in causes[change.field]


@pytest.mark.parametrize("change", CHANGES, ids=[c.id for c in CHANGES])
def test_allowed_change_goes_through(http, change):
    path = _create(http, change)
    reply = http.patch(path, change.good, MERGE)
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("change", CHANGES[:4], ids=[c.id for c in CHANGES[:4]])
def test_forbidden_change_is_refused_in_dry_run_and_changes_nothing(http, change):
    path = _create(http, change)
    before = http.get(path).body
    assert http.patch(path, change.bad, MERGE, query={"dryRun": "All"}).status == 422
    assert http.get(path).body == before


def test_a_namespace_cannot_be_renamed(http):
    """The name is the URL's: a write naming another object is refused (400) before any
    validation, by the real server and by the emulator alike."""
    assert http.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "team-a"}}).status == 201
    reply = http.patch("/api/v1/namespaces/team-a", [{"op": "replace", "path": "/metadata/name", "value": "team-b"}],
                       "application/json-patch+json")
    assert reply.status == 400
    assert "does not match the name on the URL" in reply.body["message"]
    ns = http.get("/api/v1/namespaces/team-a").body
    ns["metadata"]["name"] = "team-b"
    assert http.put("/api/v1/namespaces/team-a", ns).status == 400
    assert http.get("/api/v1/namespaces/team-b").status == 404


def test_object_meta_name_is_immutable_in_the_update_rules():
    """``ValidateObjectMetaUpdate``, for writes that reach validation with another name."""
    from kube_emulator import validation

    old = {"metadata": {"name": "a", "namespace": "x"}}
    causes = validation.validate_update("ConfigMap", old, {"metadata": {"name": "b", "namespace": "x"}})
    assert causes == [{"reason": "FieldValueInvalid", "field": "metadata.name",
                       "message": 'Invalid value: "b": field is immutable'}]
