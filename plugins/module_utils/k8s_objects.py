# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Pure functions of the apply path: ordering, labelling, comparing and masking objects.

Nothing here talks to a cluster, so every rule is unit-tested (tests/unit).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import secrets
from decimal import Decimal, InvalidOperation

from ansible_collections.edp.platform.plugins.module_utils import k8s_tls

MANAGED_BY = "edp.platform"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_TENANT = "edp.platform/tenant"
LABEL_ENVIRONMENT = "edp.platform/environment"
LABEL_ROLE = "edp.platform/role"
ANNOTATION_HASH = "edp.platform/applied-hash"
# On a Secret: comma-separated data keys to generate on first apply and keep afterwards.
ANNOTATION_GENERATE = "edp.platform/generate"
# On a Secret: a certificate authority and server certificate to make once and renew
# (module_utils/k8s_tls.py: JSON with names, days, renew_days).
ANNOTATION_GENERATE_TLS = k8s_tls.ANNOTATION_GENERATE_TLS
# On a custom resource the platform cannot do without: the variable that asked for it. Its kind
# not served by the cluster (CRD missing) stops the apply before any write, naming the variable,
# instead of the object being skipped.
ANNOTATION_REQUIRED_BY = "edp.platform/required-by"
# On a PersistentVolumeClaim: the variable its size comes from, for the message that refuses a shrink.
ANNOTATION_SIZE_FROM = "edp.platform/size-from"

# Apply order: what others depend on first (namespace, its policy and identity, then
# configuration, storage and networking, then workloads, then what watches workloads).
# Kinds not listed go last, in the order given. Deletion (prune) runs in reverse.
KIND_ORDER = [
    "CustomResourceDefinition",
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "PersistentVolumeClaim",
    "Service",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "VolumeSnapshotClass",
    "StatefulSet",
    "Deployment",
    "Job",
    "CronJob",
    "Ingress",
    "Route",
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
    "SparkApplication",
    "ScheduledSparkApplication",
    "VolumeSnapshot",
    # Istio's (network_policy role, with the mesh on): last, so that no file number above moves.
    "PeerAuthentication",
    "AuthorizationPolicy",
]
KIND_RANK = {kind: index for index, kind in enumerate(KIND_ORDER)}

# Kinds the platform may create inside a tenant namespace: the ones a prune looks for.
PRUNABLE = [
    ("v1", "ResourceQuota"), ("v1", "LimitRange"), ("v1", "ServiceAccount"),
    ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "StatefulSet"), ("apps/v1", "Deployment"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("route.openshift.io/v1", "Route"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("sparkoperator.k8s.io/v1beta2", "ScheduledSparkApplication"),
    ("security.istio.io/v1", "PeerAuthentication"), ("security.istio.io/v1", "AuthorizationPolicy"),
]
# Kinds without a namespace; every other object must name its namespace.
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "StorageClass", "PersistentVolume", "IngressClass", "VolumeSnapshotClass",
    "VolumeSnapshotContent", "PriorityClass",
}
# Never deleted by a prune, only reported: they hold a tenant's data.
PROTECTED_KINDS = {"Namespace", "PersistentVolumeClaim"}
# Kinds whose spec the server will not update in place: replaced when they change.
RECREATE_ON_IMMUTABLE = {"Job"}

# Per tenant namespace, which kinds each component applied: a rerun lists only those kinds
# (and the ones rendered now) instead of every kind the platform could ever create, as
# kubectl's ApplySet parent does. Without a record (first run, or deleted) every PRUNABLE kind is listed.
RECORD_NAME = "edp-platform-applied"
RECORD_KEY = "kinds.json"

SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp",
                   "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
MASK = "********"


def plain(value):
    """Ansible's tagged/unsafe strings turned into plain JSON types."""
    return json.loads(json.dumps(value))


def ident(obj):
    """A short name for messages: ``Kind namespace/name``."""
    meta = obj.get("metadata", {})
    where = meta.get("namespace")
    return "%s %s" % (obj.get("kind"), "%s/%s" % (where, meta.get("name")) if where else meta.get("name"))


def key(obj):
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def check_object(obj, where):
    """A clear error for an object that cannot be applied at all (before any request)."""
    if not isinstance(obj, dict):
        return "%s is not a mapping" % where
    for field in ("apiVersion", "kind"):
        if not obj.get(field):
            return "%s has no %s" % (where, field)
    meta = obj.get("metadata") or {}
    if not meta.get("name"):
        return "%s (%s) has no metadata.name" % (where, obj["kind"])
    if obj["kind"] not in CLUSTER_SCOPED and not meta.get("namespace"):
        return "%s has no metadata.namespace" % ident(obj)
    return None


def ordered(objects):
    """Objects sorted for apply: by kind rank, stable within a kind."""
    return sorted(objects, key=lambda obj: KIND_RANK.get(obj.get("kind"), len(KIND_ORDER)))


def with_labels(obj, labels):
    """A copy of obj whose metadata.labels include ``labels`` (the object's own win)."""
    result = copy.deepcopy(obj)
    meta = result.setdefault("metadata", {})
    merged = dict(labels)
    merged.update(meta.get("labels") or {})
    meta["labels"] = merged
    return result


def secret_data_to_base64(obj):
    """Secrets compared and sent with ``data`` only: the server turns stringData into data,
    so comparing stringData with what comes back would report a change on every run."""
    if obj.get("kind") != "Secret" or not obj.get("stringData"):
        return obj
    result = copy.deepcopy(obj)
    data = result.setdefault("data", {})
    for name, value in result.pop("stringData").items():
        data[name] = base64.b64encode(str(value).encode()).decode()
    return result


def generate_secret(kind="token"):
    """A new random value: ``token`` (32 URL-safe characters, safe in connection URLs),
    ``signing`` (64 URL-safe characters: the 64 bytes an HMAC-SHA512 key such as Airflow's JWT
    secret should have) or ``fernet`` (a Fernet key, as Airflow's fernet_key must be)."""
    if kind == "fernet":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    if kind == "token":
        return secrets.token_urlsafe(24)
    if kind == "signing":
        return secrets.token_urlsafe(48)
    raise ValueError("unknown kind of generated secret %r (token, signing, fernet)" % kind)


def fill_generated(desired, live, generate=generate_secret):
    """Give a Secret's ``edp.platform/generate`` keys a value when the inventory gave none.

    The annotation lists data keys, each optionally ``key:kind`` (see generate_secret).
    A key the live Secret already holds keeps its value (read back, so reruns change
    nothing); a key it lacks gets ``generate(kind)`` (base64-encoded), once. A value rendered
    from the inventory always wins. Returns the names of the keys generated now.

    A Secret annotated ``edp.platform/generate-tls`` gets its certificate authority and server
    certificate the same way (k8s_tls.fill_tls: kept while good, renewed before they end).
    """
    generated = k8s_tls.fill_tls(desired, live)
    keys = (desired.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_GENERATE)
    if desired.get("kind") != "Secret" or not keys:
        return generated
    data = desired.setdefault("data", {})
    current = (live or {}).get("data") or {}
    for entry in (k.strip() for k in keys.split(",") if k.strip()):
        name, _, kind = entry.partition(":")
        if name in data:
            continue
        if name in current:
            data[name] = current[name]
        else:
            data[name] = base64.b64encode(generate(kind or "token").encode()).decode()
            generated.append(name)
    return generated


def generated_keys(obj):
    """The data keys a Secret's generate annotations promise (for a secret store that provides them)."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    keys = {k.strip().partition(":")[0] for k in annotations.get(ANNOTATION_GENERATE, "").split(",") if k.strip()}
    if annotations.get(ANNOTATION_GENERATE_TLS):
        keys.update(k8s_tls.spec_keys(annotations[ANNOTATION_GENERATE_TLS]))
    return keys


def required_crd(obj):
    """``(CRD name, variable)`` when obj must not be skipped for want of its CRD, else None."""
    variable = (obj.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_REQUIRED_BY)
    if not variable:
        return None
    group = obj["apiVersion"].rpartition("/")[0]
    return "%ss.%s" % (obj["kind"].lower(), group), variable


def content_hash(obj):
    """sha256 of what we ask for, without our own annotation and without Secret payloads
    (a hash of a short password in an annotation is a leak; Secret data is compared as is)."""
    body = copy.deepcopy(obj)
    meta = body.get("metadata", {})
    (meta.get("annotations") or {}).pop(ANNOTATION_HASH, None)
    if "annotations" in meta and not meta["annotations"]:
        del meta["annotations"]
    if body.get("kind") == "Secret":
        body.pop("data", None)
        body.pop("stringData", None)
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def with_hash(obj):
    result = copy.deepcopy(obj)
    annotations = result.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[ANNOTATION_HASH] = content_hash(obj)
    return result


# Kubernetes' grammar (apimachinery resource.Quantity): a signed decimal number, then at most one
# of a decimal exponent (e3, E-2) or an SI suffix: never both ("1e3Mi" is not a quantity).
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {
    None: 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
}


def parse_quantity(value):
    """A Kubernetes resource quantity as a Decimal, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    try:
        return Decimal(match.group(1) + (match.group(2) or "")) * _SUFFIX[match.group(3)]
    except InvalidOperation:
        return None


def _same_scalar(want, have):
    if want == have:
        return True
    # The server canonicalises quantities (0.5 -> 500m, 1024Mi -> 1Gi) and may give
    # numbers back as strings: equal when both are the same quantity.
    if isinstance(want, str) or isinstance(have, str):
        a, b = parse_quantity(want), parse_quantity(have)
        return a is not None and a == b
    return False


def is_subset(want, have):
    """True when every field we ask for is present in the live object with that value.

    Fields the server adds (defaults, status, metadata) are ignored; lists must have
    the same length and match item by item.
    """
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        return all(k in have and is_subset(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return False
        return all(is_subset(w, h) for w, h in zip(want, have))
    return _same_scalar(want, have)


def in_sync(desired, live):
    """Whether live already is what desired asks for, so no request needs to be sent.

    The hash annotation catches fields we stopped asking for (a subset test cannot see
    those); the subset test catches hand edits made since our last apply (drift).
    """
    if live is None:
        return False
    annotations = live.get("metadata", {}).get("annotations") or {}
    if annotations.get(ANNOTATION_HASH) != desired["metadata"]["annotations"][ANNOTATION_HASH]:
        return False
    return is_subset(desired, live)


def owner(obj):
    """``(tenant, environment)`` from an object's labels; ``(None, None)`` for an object the
    platform did not make (no managed-by label)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    if labels.get(LABEL_MANAGED_BY) != MANAGED_BY:
        return None, None
    return labels.get(LABEL_TENANT), labels.get(LABEL_ENVIRONMENT)


def owned_by(obj, tenant, environment):
    """Whether obj is this tenant's (of this environment, when both say which)."""
    their_tenant, their_environment = owner(obj)
    return their_tenant == tenant and (not environment or not their_environment
                                       or their_environment == environment)


def _owner_words(tenant, environment):
    return "tenant %s%s" % (tenant, " of environment %s" % environment if environment else "")


def ownership_problems(desired, live, tenant, environment, adopt=False):
    """What stops an apply before any write, and what it may take over.

    ``live`` holds what the cluster has under the keys of the desired objects (whoever made
    them). An object labelled for another tenant (or the same tenant of another environment)
    is never touched: two tenants that resolve to one namespace would otherwise overwrite each
    other's Secrets. An object made by hand (no managed-by label) is taken over only with
    ``adopt``. Returns ``(problems, adopted)``: messages naming the object and both owners,
    and ``{key: live object}`` of what is adopted (its generated keys are read back from it).
    """
    problems, adopted = [], {}
    for obj in desired:
        current = live.get(key(obj))
        if current is None or owned_by(current, tenant, environment):
            continue
        their_tenant, their_environment = owner(current)
        if their_tenant is not None:
            problems.append("%s belongs to %s, not to %s: refusing to change it (two tenants resolve to "
                            "the same object; check edp_namespace and the tenants' names)"
                            % (ident(obj), _owner_words(their_tenant, their_environment),
                               _owner_words(tenant, environment)))
        elif adopt:
            adopted[key(obj)] = current
        else:
            problems.append("%s exists and was not made by edp.platform (it has no %s=%s label): refusing "
                            "to change it for %s; set edp_adopt: true to take over objects made by hand"
                            % (ident(obj), LABEL_MANAGED_BY, MANAGED_BY, _owner_words(tenant, environment)))
    return problems, adopted


def _storage(obj):
    return parse_quantity(((obj.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage"))


def volume_problems(desired, live, expandable):
    """Changes to a bound volume that the API server refuses, found before any write.

    ``live``: the cluster's objects by key; ``expandable``: ``{storage class: bool}`` for the
    classes of volumes that would grow (a class missing from it is not refused here: the
    deployer may not read StorageClasses, and the server still decides).
    """
    problems = []
    for obj in desired:
        current = live.get(key(obj))
        if obj["kind"] != "PersistentVolumeClaim" or current is None:
            continue
        spec, have = obj.get("spec") or {}, current.get("spec") or {}
        variable = (obj["metadata"].get("annotations") or {}).get(ANNOTATION_SIZE_FROM, "its size")
        want_size, have_size = _storage(obj), _storage(current)
        words = (spec.get("resources", {}).get("requests", {}).get("storage"),
                 have.get("resources", {}).get("requests", {}).get("storage"))
        if want_size is not None and have_size is not None and want_size < have_size:
            problems.append("%s: %s asks for %s, but the volume has %s: a volume cannot shrink "
                            "(restore into a new, smaller volume instead)" % ((ident(obj), variable) + words))
        elif want_size is not None and have_size is not None and want_size > have_size \
                and expandable.get(have.get("storageClassName")) is False:
            problems.append("%s: %s asks for %s, but storage class %s does not allow volume expansion "
                            "(allowVolumeExpansion), so it stays at %s" % (
                                ident(obj), variable, words[0], have.get("storageClassName"), words[1]))
        if spec.get("storageClassName") and have.get("storageClassName") \
                and spec["storageClassName"] != have["storageClassName"]:
            problems.append("%s: edp_storage_class is %s, but the volume was made in storage class %s, which "
                            "cannot change (migrate the data to a new volume)"
                            % (ident(obj), spec["storageClassName"], have["storageClassName"]))
        if spec.get("accessModes") and have.get("accessModes") \
                and sorted(spec["accessModes"]) != sorted(have["accessModes"]):
            problems.append("%s: access modes %s asked, but the volume was made %s, which cannot change"
                            % (ident(obj), ", ".join(spec["accessModes"]), ", ".join(have["accessModes"])))
    return problems


def growing_classes(desired, live):
    """The storage classes of volumes that would grow (their expansion rule is needed)."""
    classes = set()
    for obj in desired:
        current = live.get(key(obj))
        if obj["kind"] == "PersistentVolumeClaim" and current is not None:
            want, have = _storage(obj), _storage(current)
            if want is not None and have is not None and want > have:
                classes.add((current.get("spec") or {}).get("storageClassName"))
    return classes - {None, ""}


def for_display(obj):
    """An object as a reader wants it in a diff: no server bookkeeping, no secret values."""
    if obj is None:
        return {}
    result = copy.deepcopy(obj)
    result.pop("status", None)
    meta = result.get("metadata", {})
    for field in SERVER_METADATA:
        meta.pop(field, None)
    (meta.get("annotations") or {}).pop(ANNOTATION_HASH, None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    if result.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if field in result:
                result[field] = {name: MASK for name in result[field]}
    return result


def kind_id(obj):
    return "%s/%s" % (obj["apiVersion"], obj["kind"])


def parse_kind_id(value):
    api_version, _, kind = value.rpartition("/")
    return api_version, kind


def read_record(record):
    """``{component: [kind ids]}`` from a record ConfigMap, or None when there is none."""
    if record is None:
        return None
    try:
        kinds = json.loads((record.get("data") or {}).get(RECORD_KEY) or "{}")
    except ValueError:
        return None
    return kinds if isinstance(kinds, dict) else None


def next_record(previous, desired, namespace, components):
    """The record after this apply: the components of this call get the kinds they render in
    ``namespace`` now (empty ones dropped); other components keep what they had."""
    kinds = {c: v for c, v in (previous or {}).items() if c not in components}
    for obj in desired:
        if obj["metadata"].get("namespace") == namespace:
            role = obj["metadata"]["labels"][LABEL_ROLE]
            kinds.setdefault(role, [])
            if kind_id(obj) not in kinds[role]:
                kinds[role].append(kind_id(obj))
    return {c: sorted(v) for c, v in sorted(kinds.items()) if v}


def record_object(namespace, labels, kinds):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": RECORD_NAME, "namespace": namespace, "labels": dict(labels)},
            "data": {RECORD_KEY: json.dumps(kinds, sort_keys=True)}}


def render_filename(obj):
    """``10-resourcequota-compute.yaml``: apply order first, so ``kubectl apply -f DIR``
    and GitOps tools that read files in name order apply dependencies first."""
    rank = KIND_RANK.get(obj["kind"], len(KIND_ORDER))
    return "%02d-%s-%s.yaml" % (rank, obj["kind"].lower(), obj["metadata"]["name"])
