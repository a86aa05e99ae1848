"""Every reference to a Secret in rendered objects: what each pod (or pod template) is given.

``secret_references(objects)`` walks Deployments, StatefulSets, Jobs, CronJobs, Pods,
SparkApplications and the pod templates and SparkApplications kept as text in ConfigMaps (the
KubernetesExecutor's pod template, Spark's driver and executor templates, the example pipeline's
application), and yields a ``Ref`` for each:

* ``env[].valueFrom.secretKeyRef`` (key: the key),
* ``envFrom[].secretRef`` (key ``*``: every key of the Secret),
* ``volumes[].secret`` (its items' keys, or ``*``) and ``volumes[].projected.sources[].secret``,
* ``imagePullSecrets`` (key ``.dockerconfigjson``: the kubelet uses it, the pod never sees it),
* a SparkApplication's ``secrets`` (mounted: ``*``) and ``envSecretKeyRefs``.

``where`` names the object (``Kind/name``, or ``ConfigMap/name:key`` for a template kept as text) and
``container`` the container (empty for pod-level references).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

POD_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


@dataclass(frozen=True)
class Ref:
    where: str
    container: str
    secret: str
    key: str
    how: str  # env, envFrom, volume, projected, imagePullSecrets, spark-secrets, spark-env


def _dig(obj, path):
    for part in path:
        obj = (obj or {}).get(part)
    return obj


def _container_refs(where, container):
    name = container.get("name", "")
    for env in container.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            yield Ref(where, name, ref.get("name", ""), ref.get("key", ""), "env")
    for source in container.get("envFrom") or []:
        if source.get("secretRef"):
            yield Ref(where, name, source["secretRef"].get("name", ""), "*", "envFrom")


def _volume_refs(where, volumes):
    for volume in volumes or []:
        if volume.get("secret"):
            items = volume["secret"].get("items") or [{"key": "*"}]
            for item in items:
                yield Ref(where, "", volume["secret"].get("secretName", ""), item["key"], "volume")
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("secret"):
                items = source["secret"].get("items") or [{"key": "*"}]
                for item in items:
                    yield Ref(where, "", source["secret"].get("name", ""), item["key"], "projected")


def pod_spec_refs(where, spec):
    spec = spec or {}
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            yield from _container_refs(where, container)
    yield from _volume_refs(where, spec.get("volumes"))
    for pull in spec.get("imagePullSecrets") or []:
        yield Ref(where, "", pull.get("name", ""), ".dockerconfigjson", "imagePullSecrets")


def _spark_refs(where, spec):
    spec = spec or {}
    yield from _volume_refs(where, spec.get("volumes"))
    for pull in spec.get("imagePullSecrets") or []:
        yield Ref(where, "", pull if isinstance(pull, str) else pull.get("name", ""), ".dockerconfigjson",
                  "imagePullSecrets")
    for role in ("driver", "executor"):
        pod = spec.get(role) or {}
        yield from _container_refs(where, dict(pod, name=role))
        for secret in pod.get("secrets") or []:
            yield Ref(where, role, secret.get("name", ""), "*", "spark-secrets")
        for ref in (pod.get("envSecretKeyRefs") or {}).values():
            yield Ref(where, role, ref.get("name", ""), ref.get("key", ""), "spark-env")
        if pod.get("template"):
            yield from pod_spec_refs(where + "/" + role + "-template", pod["template"].get("spec"))


def _embedded(where, text):
    """Pod templates and SparkApplications kept as YAML text (in ConfigMaps)."""
    if not isinstance(text, str) or "kind:" not in text:
        return
    try:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return  # not YAML (a Python file, a config file)
    for doc in docs:
        yield from object_refs(doc, where)


def object_refs(obj, where=None):
    kind = obj.get("kind")
    where = where or "%s/%s" % (kind, (obj.get("metadata") or {}).get("name", ""))
    if kind in POD_PATHS:
        yield from pod_spec_refs(where, _dig(obj, POD_PATHS[kind]))
    elif kind == "SparkApplication":
        yield from _spark_refs(where, obj.get("spec"))
    elif kind == "ScheduledSparkApplication":
        yield from _spark_refs(where, _dig(obj, ("spec", "template")))
    elif kind == "ConfigMap":
        for key, value in sorted((obj.get("data") or {}).items()):
            yield from _embedded("%s:%s" % (where, key), value)


def secret_references(objects):
    for obj in objects:
        yield from object_refs(obj)
