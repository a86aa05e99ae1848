"""Status that controllers would report once they have converged.

There are no controllers, kubelets or schedulers behind the emulator, so the
server itself writes, on each write of the main resource, the ``status`` the
responsible controller would eventually publish for the new spec: a
Deployment is rolled out and available, a Job has completed, a Pod is
Running and Ready, a PVC is Bound.  Clients that wait (``kubectl rollout
status``, ``kubectl wait``, kubernetes.core ``wait: true``) therefore finish
on their first check.

An object annotated ``emulator.edp.platform/ready: "false"`` is reported as
stuck instead (no ready replicas, Job still active, Pod not ready), so tests
can exercise wait timeouts.

A StatefulSet whose pod template the server would refuse as a Pod (the API
server does not validate a StatefulSet's pod spec, only the Pods its
controller then fails to create) reports no replicas at all, like a real
cluster where the controller's ``create Pod`` keeps failing.

Timestamps of conditions are carried over from the previous status when the
condition did not change, so re-sending an unchanged object is a no-op.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

from . import rules
from .apply import now

NOT_READY_ANNOTATION = "emulator.edp.platform/ready"


def is_ready(obj: dict) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(NOT_READY_ANNOTATION, "true")).lower() != "false"


def _prune_zero(status: dict) -> dict:
    """Drop zero counters like Go's ``omitempty`` does."""
    return {k: v for k, v in status.items() if v not in (0, None)}


def _conditions(old_status: dict, specs: list[tuple[str, str, str, str]], *, update_time: bool = False) -> list[dict]:
    """Build conditions ``(type, status, reason, message)``, keeping old timestamps if unchanged."""
    old = {c.get("type"): c for c in (old_status or {}).get("conditions") or [] if isinstance(c, dict)}
    out = []
    stamp = now()
    for ctype, status, reason, message in specs:
        prev = old.get(ctype) or {}
        same = prev.get("status") == status and prev.get("reason") == reason
        cond = {"type": ctype, "status": status,
                "lastTransitionTime": prev.get("lastTransitionTime", stamp) if same else stamp}
        if reason:
            cond["reason"], cond["message"] = reason, message
        if update_time:
            cond["lastUpdateTime"] = prev.get("lastUpdateTime", stamp) if same else stamp
        out.append(cond)
    return out


def _revision(obj: dict) -> str:
    template = json.dumps((obj.get("spec") or {}).get("template"), sort_keys=True)
    return f'{obj["metadata"]["name"]}-{hashlib.sha256(template.encode()).hexdigest()[:10]}'


def _meta_generation(obj: dict) -> int:
    return obj["metadata"].get("generation", 1)


def _deployment(obj: dict, old: dict) -> dict:
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    gen = _meta_generation(obj)
    name = obj["metadata"]["name"]
    if is_ready(obj):
        status = _prune_zero({"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
                              "readyReplicas": replicas, "availableReplicas": replicas})
        status["conditions"] = _conditions(old, [
            ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            ("Progressing", "True", "NewReplicaSetAvailable",
             f'ReplicaSet "{_revision(obj)}" has successfully progressed.'),
        ], update_time=True)
    else:
        status = _prune_zero({"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
                              "unavailableReplicas": replicas})
        status["conditions"] = _conditions(old, [
            ("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
            ("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'),
        ], update_time=True)
    return status


def pods_cannot_be_created(obj: dict) -> bool:
    """True if the Pods of this StatefulSet's template would be refused (422)."""
    template_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec")
    return bool(rules.pod_spec_errors(template_spec, "spec"))


def _statefulset(obj: dict, old: dict) -> dict:
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if pods_cannot_be_created(obj):
        replicas = 0  # every "create Pod" of the controller fails
    ready = replicas if is_ready(obj) else 0
    revision = _revision(obj)
    status = {"observedGeneration": _meta_generation(obj), "replicas": replicas,
              "currentReplicas": replicas, "updatedReplicas": replicas,
              "readyReplicas": ready, "availableReplicas": ready,
              "currentRevision": revision, "updateRevision": revision, "collisionCount": 0}
    return {k: v for k, v in status.items() if not (k in ("readyReplicas", "currentReplicas",
                                                          "updatedReplicas") and v == 0)}


def _daemonset(obj: dict, old: dict) -> dict:
    ready = 1 if is_ready(obj) else 0
    return _prune_zero({"observedGeneration": _meta_generation(obj), "currentNumberScheduled": 1,
                        "desiredNumberScheduled": 1, "numberReady": ready, "numberAvailable": ready,
                        "numberUnavailable": 1 - ready, "updatedNumberScheduled": 1}) | {"numberMisscheduled": 0}


def _replicaset(obj: dict, old: dict) -> dict:
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    ready = replicas if is_ready(obj) else 0
    return _prune_zero({"observedGeneration": _meta_generation(obj), "replicas": replicas,
                        "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready})


def _job(obj: dict, old: dict) -> dict:
    started = (old or {}).get("startTime") or now()
    if not is_ready(obj):
        return {"startTime": started, "active": 1, "ready": 0, "terminating": 0,
                "uncountedTerminatedPods": {}}
    completions = (obj.get("spec") or {}).get("completions") or 1
    return {"startTime": started, "completionTime": (old or {}).get("completionTime") or now(),
            "succeeded": completions, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": _conditions(old, [
                ("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
            ])}


def _pod(obj: dict, old: dict) -> dict:
    ready = is_ready(obj)
    flag = "True" if ready else "False"
    started = (old or {}).get("startTime") or now()
    containers = []
    for c in (obj.get("spec") or {}).get("containers") or []:
        state = {"running": {"startedAt": started}} if ready else {
            "waiting": {"reason": "ContainerCreating"}}
        containers.append({"name": c.get("name"), "image": c.get("image"), "imageID": "",
                           "containerID": "", "ready": ready, "started": ready, "restartCount": 0,
                           "state": state})
    return {"phase": "Running" if ready else "Pending", "hostIP": "10.0.0.1", "podIP": "10.244.0.10",
            "startTime": started, "qosClass": "BestEffort", "containerStatuses": containers,
            "conditions": _conditions(old, [
                ("PodReadyToStartContainers", flag, "", ""), ("Initialized", "True", "", ""),
                ("Ready", flag, "", ""), ("ContainersReady", flag, "", ""),
                ("PodScheduled", "True", "", "")])}


def _pvc(obj: dict, old: dict) -> dict:
    spec = obj.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    status: dict[str, Any] = {"phase": "Bound", "accessModes": spec.get("accessModes") or []}
    if storage is not None:
        status["capacity"] = {"storage": storage}
    return status


def _crd(obj: dict, old: dict) -> dict:
    spec = obj.get("spec") or {}
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {"acceptedNames": spec.get("names") or {}, "storedVersions": stored,
            "conditions": _conditions(old, [
                ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")])}


def _hpa(obj: dict, old: dict) -> dict:
    replicas = (obj.get("spec") or {}).get("minReplicas") or 1
    return {"currentReplicas": replicas, "desiredReplicas": replicas}


def _pdb(obj: dict, old: dict) -> dict:
    return {"observedGeneration": _meta_generation(obj), "currentHealthy": 0, "desiredHealthy": 0,
            "disruptionsAllowed": 0, "expectedPods": 0}


STATUS: dict[tuple[str, str], Callable[[dict, dict], dict]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): lambda obj, old: {},
    ("", "Pod"): _pod,
    ("", "Namespace"): lambda obj, old: {"phase": "Active"},
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "PersistentVolume"): lambda obj, old: {"phase": "Available"},
    ("", "Service"): lambda obj, old: {"loadBalancer": {}},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("policy", "PodDisruptionBudget"): _pdb,
}


def reconcile_status(group: str, kind: str, obj: dict, old_status: dict | None) -> None:
    """Set ``obj['status']`` to what the kind's controller would report."""
    fill = STATUS.get((group, kind))
    if fill is not None:
        obj["status"] = fill(obj, old_status or {})
