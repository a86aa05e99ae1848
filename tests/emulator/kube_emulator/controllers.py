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

:class:`Workloads` holds Deployments, StatefulSets and Jobs unready for a
while after each change of their spec (pods slow to start), or until
released, and can make Jobs fail (``BackoffLimitExceeded``): what a wait must
be seen to wait for, and to give up on. A held workload's status changes by
itself once its time is up, as a controller's update would (a new
``resourceVersion`` and a watch event; it is no request, so the request log
has no entry for it).

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
import math
import threading
import time
from typing import Any, Callable

from . import rules
from .apply import now

NOT_READY_ANNOTATION = "emulator.edp.platform/ready"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "Job"})
READY, HELD, FAILED = "ready", "held", "failed"
JOB_FAILURE = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")


class Workloads:
    """How long workloads take to become ready, and whether Jobs fail.

    ``hold`` seconds after each change of a workload's spec (its ``generation``) it is
    reported unready; ``math.inf`` holds it until :meth:`release`; 0 (the default) makes it
    ready at once. ``fail_jobs`` makes every Job fail instead of completing. ``clock`` is
    injectable so tests can move time on without waiting.
    """

    def __init__(self, hold: float = 0, fail_jobs: bool = False, kinds=WORKLOAD_KINDS,
                 clock: Callable[[], float] = time.monotonic):
        self.hold = hold
        self.fail_jobs = fail_jobs
        self.kinds = frozenset(kinds)
        self._clock = clock
        self._lock = threading.Lock()
        self._since: dict[tuple[str, str, str], tuple[int, float]] = {}

    def release(self) -> None:
        """Every held workload ready from now on (and those written later at once)."""
        self.hold = 0

    def state(self, kind: str, obj: dict) -> str:
        """READY, HELD or FAILED for a workload as written now."""
        if kind == "Job" and self.fail_jobs:
            return FAILED
        if kind not in self.kinds or not self.hold:
            return READY
        meta = obj["metadata"]
        key = (kind, meta.get("namespace") or "", meta["name"])
        generation = meta.get("generation", 1)
        with self._lock:
            since = self._since.get(key)
            if since is None or since[0] != generation:
                since = self._since[key] = (generation, self._clock())
        if math.isinf(self.hold) or self._clock() - since[1] < self.hold:
            return HELD
        return READY


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


def _deployment(obj: dict, old: dict, state: str = READY) -> dict:
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    gen = _meta_generation(obj)
    name = obj["metadata"]["name"]
    if is_ready(obj) and state == READY:
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


def _statefulset(obj: dict, old: dict, state: str = READY) -> dict:
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if pods_cannot_be_created(obj):
        replicas = 0  # every "create Pod" of the controller fails
    ready = replicas if is_ready(obj) and state == READY else 0
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


def _job(obj: dict, old: dict, state: str = READY) -> dict:
    started = (old or {}).get("startTime") or now()
    if state == FAILED:
        tries = ((obj.get("spec") or {}).get("backoffLimit", 6)) + 1
        return {"startTime": started, "failed": tries, "ready": 0, "terminating": 0,
                "uncountedTerminatedPods": {},
                "conditions": _conditions(old, [("FailureTarget", "True") + JOB_FAILURE,
                                                ("Failed", "True") + JOB_FAILURE])}
    if not is_ready(obj) or state == HELD:
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


def reconcile_status(group: str, kind: str, obj: dict, old_status: dict | None,
                     workloads: Workloads | None = None) -> str:
    """Set ``obj['status']`` to what the kind's controller would report; returns the
    workload's state (READY for every other kind)."""
    fill = STATUS.get((group, kind))
    state = READY
    if fill is not None and workloads is not None and kind in WORKLOAD_KINDS and group in ("apps", "batch"):
        state = workloads.state(kind, obj)
        obj["status"] = fill(obj, old_status or {}, state)
    elif fill is not None:
        obj["status"] = fill(obj, old_status or {})
    return state
