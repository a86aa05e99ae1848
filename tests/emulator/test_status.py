"""Status written as if controllers had converged, and the not-ready annotation."""

import base64

from support import configmap, deployment, statefulset

DEP = "/apis/apps/v1/namespaces/default/deployments"
STS = "/apis/apps/v1/namespaces/default/statefulsets"
NOT_READY = {"emulator.edp.platform/ready": "false"}


def conditions(obj):
    return {c["type"]: c["status"] for c in obj["status"]["conditions"]}


def test_deployment_is_rolled_out_and_available(http):
    status = http.post(DEP, deployment(replicas=3)).body["status"]
    assert status["observedGeneration"] == 1
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 3
    assert status["updatedReplicas"] == 3
    assert conditions({"status": status}) == {"Available": "True", "Progressing": "True"}
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"


def test_deployment_status_follows_spec_changes(http):
    http.post(DEP, deployment(replicas=1))
    reply = http.patch(f"{DEP}/web", {"spec": {"replicas": 4}}, "application/merge-patch+json").body
    assert reply["status"]["readyReplicas"] == 4
    assert reply["status"]["observedGeneration"] == reply["metadata"]["generation"] == 2


def test_statefulset_has_updated_replicas_and_revisions(http):
    status = http.post(STS, statefulset(replicas=2)).body["status"]
    assert status["updatedReplicas"] == status["readyReplicas"] == status["currentReplicas"] == 2
    assert status["availableReplicas"] == 2 and status["replicas"] == 2
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] == 1


def test_statefulset_gets_default_update_strategy(http):
    spec = http.post(STS, statefulset()).body["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["podManagementPolicy"] == "OrderedReady"


def test_not_ready_annotation_keeps_workloads_unready(http):
    dep = http.post(DEP, deployment(annotations=NOT_READY)).body["status"]
    assert "readyReplicas" not in dep and "availableReplicas" not in dep
    assert conditions({"status": dep})["Available"] == "False"
    sts = http.post(STS, statefulset(annotations=NOT_READY)).body["status"]
    assert "readyReplicas" not in sts and sts["updatedReplicas"] == 1
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "annotations": NOT_READY},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox:1"}]}}}}
    status = http.post("/apis/batch/v1/namespaces/default/jobs", job).body["status"]
    assert status["active"] == 1 and "conditions" not in status and "completionTime" not in status


def test_removing_the_not_ready_annotation_makes_it_ready(http):
    http.post(DEP, deployment(annotations=NOT_READY))
    patch = {"metadata": {"annotations": {"emulator.edp.platform/ready": None}}}
    status = http.patch(f"{DEP}/web", patch, "application/merge-patch+json").body["status"]
    assert status["readyReplicas"] == 2


def test_job_completes(http):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox:1"}]}}}}
    status = http.post("/apis/batch/v1/namespaces/default/jobs", job).body["status"]
    assert status["succeeded"] == 1 and status["startTime"] and status["completionTime"]
    assert conditions({"status": status})["Complete"] == "True"


def test_pod_runs_and_is_ready(http):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}
    status = http.post("/api/v1/namespaces/default/pods", pod).body["status"]
    assert status["phase"] == "Running"
    assert conditions({"status": status})["Ready"] == "True"
    assert status["containerStatuses"][0]["ready"] is True


def test_namespace_pvc_and_cronjob_status(http):
    ns = http.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}).body
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "x"}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    status = http.post("/api/v1/namespaces/default/persistentvolumeclaims", pvc).body["status"]
    assert status == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox:1"}]}}}}}}
    assert http.post("/apis/batch/v1/namespaces/default/cronjobs", cron).body["status"] == {}


def test_service_gets_cluster_ip_and_default_protocol(http):
    path = "/api/v1/namespaces/default/services"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    spec = http.post(path, svc).body["spec"]
    assert spec["clusterIP"].startswith("10.9") and spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    headless = {**svc, "metadata": {"name": "h"}, "spec": {**svc["spec"], "clusterIP": "None"}}
    assert http.post(path, headless).body["spec"]["clusterIP"] == "None"


def test_secret_string_data_is_merged_into_data(http):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"a": base64.b64encode(b"1").decode()}, "stringData": {"b": "two"}}
    body = http.post("/api/v1/namespaces/default/secrets", secret).body
    assert "stringData" not in body and body["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in body["data"].items()} == {"a": "1", "b": "two"}


def test_main_resource_writes_ignore_status(http):
    body = deployment()
    body["status"] = {"readyReplicas": 99}
    assert http.post(DEP, body).body["status"]["readyReplicas"] == 2


def test_status_subresource_get_put_patch(http):
    created = http.post(DEP, deployment()).body
    assert http.get(f"{DEP}/web/status").body["status"]["readyReplicas"] == 2
    reply = http.patch(f"{DEP}/web/status", {"status": {"readyReplicas": 1}, "spec": {"replicas": 9}},
                       "application/merge-patch+json")
    assert reply.status == 200
    assert reply.body["status"]["readyReplicas"] == 1
    assert reply.body["spec"]["replicas"] == 2  # status writes change only status
    put = {**reply.body, "status": {**reply.body["status"], "readyReplicas": 0}}
    assert http.put(f"{DEP}/web/status", put).body["status"]["readyReplicas"] == 0
    assert created["metadata"]["uid"] == http.get(f"{DEP}/web").body["metadata"]["uid"]


def test_status_of_kinds_without_status_subresource_is_kept(http):
    assert http.get("/api/v1/namespaces/default/configmaps/none/status").status == 404
    assert http.post("/api/v1/namespaces/default/configmaps", configmap("a")).status == 201
