# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""The apply path's service: what the cluster holds, what to write, what to prune, the kinds
record, and the one optional wait.

Split as kubernetes.core splits its modules (module_utils/k8s/service.py does the API work,
runner.py sequences it): ``ApplyService`` holds the client and nothing else, every step takes
what it needs as arguments and returns what it found, and ``converge`` runs the steps in
order. The action plugin (plugins/action/k8s_apply.py) only turns task options into
``Settings`` and the ``Report`` into a task result, so all of this is unit-tested without
Ansible (tests/unit/test_k8s_service.py).

Why a step takes a ``Report`` argument rather than returning a list: when the API server
refuses a request half-way, the error must still say what was done before it
(``ApplyError.done``), and the report is the one place that knows.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_release
from ansible_collections.edp.platform.plugins.module_utils import k8s_render
from ansible_collections.edp.platform.plugins.module_utils.kube import KubeApiError

APPLY = "application/apply-patch+yaml"
CONFIGMAPS = {"name": "configmaps", "namespaced": True}
ENDPOINTS = {"name": "endpoints", "namespaced": True}
READY_KINDS = {"Deployment", "StatefulSet", "Job"}
REPLACED_FIELD = "spec.template"  # what makes a Job (ko.RECREATE_ON_IMMUTABLE) be replaced
CHANGES = ("created", "updated", "replaced", "deleted", "written", "removed")
POLL_SECONDS = 1.0
# Reads sent at once while learning the live state: enough to hide a far API server's round
# trips, few enough not to matter to it (kubectl's default QPS is 5 with bursts of 10).
READ_WORKERS = 4


class ApplyError(Exception):
    """The apply stopped. ``done``: the report entries of what it did before (may be empty)."""

    def __init__(self, message, done=()):
        super().__init__(message)
        self.done = list(done)


class WaitTimeout(ApplyError):
    """A workload was not ready when the wait's time ran out."""


class WorkloadFailed(ApplyError):
    """A Job failed (the wait stops at once: it will not complete)."""


@dataclass(frozen=True)
class Settings:
    """What the task asks for (plugins/modules/k8s_apply.py documents each)."""

    tenant: str
    environment: str | None = None
    namespace: str | None = None
    components: frozenset = frozenset()
    prune: bool = True
    adopt: bool = False
    field_manager: str = "edp-platform"
    check: bool = False
    wait: bool = False
    wait_timeout: int = 300
    # Kinds the prune reports as kept instead of deleting (a rollback keeps every Secret).
    kept_kinds: frozenset = frozenset()

    @property
    def apply_query(self):
        return {"fieldManager": self.field_manager, "force": "true", "fieldValidation": "Strict"}


@dataclass
class Report:
    """What was done to each object (the task's ``objects``) and the diffs to show."""

    objects: list = field(default_factory=list)
    diffs: list = field(default_factory=list)
    release: dict | None = None  # the release recorded (module_utils/k8s_release.py), if any

    def note(self, obj, action, **extra):
        meta = obj["metadata"]
        item = {"kind": obj["kind"], "name": meta["name"], "action": action}
        if meta.get("namespace"):
            item["namespace"] = meta["namespace"]
        item.update(extra)
        self.objects.append(item)

    def diff(self, before, after):
        self.diffs.append({
            "before_header": ko.ident(after), "after_header": ko.ident(after),
            "before": k8s_render.dump(ko.for_display(before)) if before else "",
            "after": k8s_render.dump(ko.for_display(after)),
        })

    def diff_gone(self, obj, where, how):
        """A diff of an object that is no more: ``where`` it was (an object or a file), ``how``
        it went (``(deleted)``, ``(removed)``)."""
        self.diffs.append({"before_header": where, "after_header": how,
                           "before": k8s_render.dump(ko.for_display(obj)), "after": ""})

    def done_words(self):
        return ", ".join("%s %s %s" % (i["action"], i["kind"], i["name"]) for i in self.objects) or "nothing"


def summarise(objects):
    """``(counts by action, changed, message)`` of a report's entries."""
    counts = {}
    for item in objects:
        counts[item["action"]] = counts.get(item["action"], 0) + 1
    changed = any(i["action"] in CHANGES for i in objects)
    message = ", ".join("%d %s" % (n, a) for a, n in sorted(counts.items())) or "nothing to do"
    return counts, changed, message


@dataclass
class LiveState:
    """What the cluster holds where the tenant's objects go, whoever made it.

    ``found``: objects by ko.key (None for a cluster-scoped object that is not there);
    ``new_namespaces``: rendered Namespaces that do not exist yet; ``records``: each searched
    namespace's kinds record (None: none, or not this tenant's); ``record_problems``: records
    that say the namespace belongs to someone else.
    """

    found: dict
    new_namespaces: set
    records: dict
    record_problems: list


def desired_objects(groups, tenant, environment=None, labels=None):
    """Every object of ``{component: [objects]}`` labelled, hashed, checked for duplicates and
    put in apply order: what both apply and render mode send."""
    common = {ko.LABEL_MANAGED_BY: ko.MANAGED_BY, ko.LABEL_PART_OF: "edp", ko.LABEL_TENANT: tenant}
    if environment:
        common[ko.LABEL_ENVIRONMENT] = environment
    common.update(labels or {})
    desired, seen = [], set()
    for component, objects in groups.items():
        for obj in objects:
            obj = ko.secret_data_to_base64(obj)
            obj = ko.with_hash(ko.with_labels(obj, dict(common, **{ko.LABEL_ROLE: component})))
            if ko.key(obj) in seen:
                raise ApplyError("%s is rendered twice" % ko.ident(obj))
            seen.add(ko.key(obj))
            desired.append(obj)
    return ko.ordered(desired)


def namespaces_of(settings, desired):
    """Where this tenant's objects are: the tenant namespace, the namespaces rendered into and
    the Namespaces rendered - searched even when nothing is rendered into them any more."""
    found = {o["metadata"]["namespace"] for o in desired if o["kind"] not in ko.CLUSTER_SCOPED}
    found.update(o["metadata"]["name"] for o in desired if o["kind"] == "Namespace")
    if settings.namespace:
        found.add(settings.namespace)
    return found


def is_ready(obj):
    """Whether a workload has done what it was asked (the checks `kubectl rollout status` makes)."""
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    if obj["kind"] == "Job":
        return _condition(obj, "Complete") is not None
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return False
    want = spec.get("replicas", 1)
    return status.get("updatedReplicas", 0) >= want and status.get("readyReplicas", 0) >= want


def job_failure(obj):
    """Why a Job failed (its ``Failed`` condition's reason and message), or None."""
    failed = _condition(obj, "Failed") if obj.get("kind") == "Job" else None
    if failed is None:
        return None
    return ": ".join(p for p in (failed.get("reason"), failed.get("message")) if p) or "Failed"


def progress(obj):
    """A workload's progress in words, for the message of a wait that gave up."""
    status = obj.get("status") or {}
    if obj["kind"] == "Job":
        return "%d active, %d succeeded" % (status.get("active", 0), status.get("succeeded", 0))
    return "%d of %d ready" % (status.get("readyReplicas", 0), (obj.get("spec") or {}).get("replicas", 1))


def _condition(obj, kind):
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def immutable(exc, obj, current):
    """Whether the server refused a change of an existing object because a field of it cannot
    change (a Job's template): the apply replaces such an object."""
    return (exc.status == 422 and current is not None and obj["kind"] in ko.RECREATE_ON_IMMUTABLE
            and "immutable" in exc.message)


class ApplyService:
    """The API work of an apply, over one client. Holds no state between calls but the client's
    (its connections and discovery cache): each step's inputs are its arguments, its findings
    its return value."""

    def __init__(self, client, sleep=time.sleep, clock=time.monotonic, read_workers=READ_WORKERS):
        self.client = client
        self._sleep = sleep
        self._clock = clock
        self._read_workers = read_workers
        self._pool = None  # made on first use; its threads keep their connections open

    def close(self):
        """Stop the reading threads and close the client's connections."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.client.close()

    # -- reads -------------------------------------------------------------------------
    def serves(self, api_version, kind):
        """The kind's resource (plural, scope) when the cluster serves it, else None (no CRD)."""
        return self.client.resource(api_version, kind)

    def get(self, path):
        """The object at path, or None when there is none."""
        try:
            return self.client.request("GET", path)
        except KubeApiError as exc:
            if exc.status != 404:
                raise
            return None

    def _list(self, api_version, kind, res, namespace):
        """The kind's objects in namespace (each with apiVersion and kind set); [] on a 404. Secrets
        but the tenant's releases: at tens of kilobytes each, they are read only when one is
        recorded (k8s_release.list_releases), not on every run."""
        query = None
        if (api_version, kind) == ("v1", "Secret"):
            query = {"labelSelector": "!" + k8s_release.LABEL_REVISION}
        try:
            listing = self.client.request("GET", self.client.path(api_version, res, namespace), query)
        except KubeApiError as exc:
            if exc.status != 404:
                raise
            return []
        items = listing.get("items", [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def _parallel(self, call, arguments):
        """``[call(*a) for a in arguments]``, several at a time: reads that do not depend on
        each other cost one round trip per READ_WORKERS instead of one each."""
        if self._read_workers <= 1 or len(arguments) <= 1:
            return [call(*a) for a in arguments]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._read_workers, thread_name_prefix="edp-read")
        return list(self._pool.map(lambda a: call(*a), arguments))

    def kube_api_endpoints(self):
        """The API server's own addresses and port, from the `kubernetes` Endpoints (one GET): what
        a NetworkPolicy sees of a connection to the `kubernetes` Service after translation."""
        found = self.get(self.client.path("v1", ENDPOINTS, "default", "kubernetes"))
        addresses, ports = [], []
        for subset in (found or {}).get("subsets") or []:
            addresses += [a["ip"] for a in subset.get("addresses") or [] if a.get("ip")]
            ports += [p["port"] for p in subset.get("ports") or [] if p.get("name", "https") == "https"]
        if not addresses or not ports:
            raise ApplyError("network_policy_kube_api_from_endpoints: the Endpoints default/kubernetes list "
                             "no address or https port; set network_policy_kube_api_cidrs and _port instead")
        cidrs = ["%s/%d" % (ip, 128 if ":" in ip else 32) for ip in sorted(set(addresses))]
        return {"cidrs": cidrs, "port": ports[0]}

    def live_state(self, settings, desired):
        """What the cluster holds where this tenant's objects go, whoever made it: a GET per
        cluster-scoped object (the Namespace), the kinds record of each namespace, then one LIST
        per kind and namespace - the kinds rendered now and the kinds the record says were
        applied before (every platform kind without a record). Not only our own objects: one
        made by hand or by another tenant under the same name must stop the apply
        (check_before_writing)."""
        found, new_namespaces = {}, set()
        cluster = [(o, self.serves(o["apiVersion"], o["kind"])) for o in desired if o["kind"] in ko.CLUSTER_SCOPED]
        cluster = [(o, res) for o, res in cluster if res is not None]
        paths = [(self.client.path(o["apiVersion"], res, name=o["metadata"]["name"]),) for o, res in cluster]
        for (obj, _), current in zip(cluster, self._parallel(self.get, paths)):
            found[ko.key(obj)] = current
            if current is None and obj["kind"] == "Namespace":
                new_namespaces.add(obj["metadata"]["name"])
        namespaces = sorted(namespaces_of(settings, desired) - new_namespaces)
        records, problems = self._records(settings, namespaces)
        wanted = {(o["apiVersion"], o["kind"]) for o in desired if o["kind"] not in ko.CLUSTER_SCOPED}
        lists = []
        for namespace in namespaces:
            record = records[namespace]
            kinds = set(wanted)
            if record is None:
                kinds.update(ko.PRUNABLE)
            else:
                kinds.update(ko.parse_kind_id(k) for ids in record.values() for k in ids)
            for api_version, kind in sorted(kinds):
                res = self.serves(api_version, kind)
                if res is not None:
                    lists.append((api_version, kind, res, namespace))
        for items in self._parallel(self._list, lists):
            for item in items:
                found[ko.key(item)] = item
        return LiveState(found, new_namespaces, records, problems)

    def _records(self, settings, namespaces):
        """``({namespace: record or None}, problems)``: a record of another tenant is a problem
        and counts as none (every kind is searched, to name each object in the way)."""
        paths = [(self.client.path("v1", CONFIGMAPS, ns, ko.RECORD_NAME),) for ns in namespaces]
        records, problems = {}, []
        for namespace, raw in zip(namespaces, self._parallel(self.get, paths)):
            if raw is not None and not ko.owned_by(raw, settings.tenant, settings.environment):
                problems.append("namespace %s holds the objects of %s (its ConfigMap %s says so)"
                                % (namespace, "tenant %s of environment %s" % ko.owner(raw), ko.RECORD_NAME))
                raw = None
            records[namespace] = ko.read_record(raw)
        return records, problems

    def allows_expansion(self, storage_class):
        """A StorageClass's allowVolumeExpansion; None when it cannot be read (the server decides)."""
        res = self.serves("storage.k8s.io/v1", "StorageClass")
        try:
            found = res and self.client.request("GET", self.client.path("storage.k8s.io/v1", res, name=storage_class))
        except KubeApiError as exc:
            if exc.status not in (403, 404):
                raise
            return None
        return bool(found.get("allowVolumeExpansion")) if found else None

    # -- before writing ----------------------------------------------------------------
    def check_before_writing(self, settings, desired, state):
        """``(our live objects by key, keys of the objects adopted)``, after refusing (with every
        reason at once, as ApplyError) an apply that would change another tenant's objects,
        objects made by hand (unless adopted), or volumes in a way the server refuses only after
        the objects before them were written, or that needs a CRD the cluster does not serve."""
        tenant, environment = settings.tenant, settings.environment
        live = {k: o for k, o in state.found.items() if o is not None and ko.owned_by(o, tenant, environment)}
        problems, adopted = ko.ownership_problems(desired, state.found, tenant, environment, settings.adopt)
        expandable = {name: self.allows_expansion(name) for name in ko.growing_classes(desired, live)}
        problems = (state.record_problems + problems + ko.volume_problems(desired, live, expandable)
                    + self.missing_crds(desired))
        if problems:
            raise ApplyError("nothing was changed: %s" % "; ".join(problems))
        live.update(adopted)
        return live, set(adopted)

    def missing_crds(self, desired):
        """Custom resources asked for by a variable (ko.ANNOTATION_REQUIRED_BY) whose kind the cluster
        does not serve: an error, where other custom resources without their CRD are skipped."""
        problems = []
        for obj in desired:
            required = ko.required_crd(obj)
            if required and self.serves(obj["apiVersion"], obj["kind"]) is None:
                problems.append("%s needs the CRD %s (%s), which the cluster does not serve: install it "
                                "or leave %s empty" % ((ko.ident(obj),) + required[:1]
                                                       + (obj["apiVersion"],) + required[1:]))
        return problems

    # -- writes ------------------------------------------------------------------------
    def apply(self, settings, desired, live, adopted, new_namespaces, report):
        """Send each object that differs from its live self (a server-side apply, or its dry run
        in check mode); note every object in ``report``. Returns ``[(object, resource)]`` of what
        the cluster serves, for the wait."""
        applied = []
        for obj in desired:
            res = self.serves(obj["apiVersion"], obj["kind"])
            if res is None:
                report.note(obj, "skipped", reason="%s/%s is not served by the cluster (CRD not installed)"
                            % (obj["apiVersion"], obj["kind"]))
                continue
            applied.append((obj, res))
            current = live.get(ko.key(obj))
            # Secret keys to generate: read back from the cluster, or made once (never shown).
            generated = ko.fill_generated(obj, current)
            if ko.in_sync(obj, current):
                report.note(obj, "unchanged")
                continue
            extra = {"generated": generated} if generated else {}
            after, action = self._send(settings, obj, res, current, obj["metadata"].get("namespace") in new_namespaces,
                                       extra)
            report.diff(current, after)
            if ko.key(obj) in adopted:
                extra["adopted"] = True  # made by hand, labelled and managed from now on
            report.note(obj, action, **extra)
        return applied

    def _send(self, settings, obj, res, current, namespace_is_new, extra):
        """``(object after, action)`` of one object that differs; a reason added to ``extra``
        when it is (or would be) replaced."""
        path = self.client.path(obj["apiVersion"], res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        action = "updated" if current is not None else "created"
        query = settings.apply_query
        if settings.check and namespace_is_new:
            return obj, action  # the server cannot dry-run into a namespace that does not exist yet
        if settings.check:
            try:
                return self.client.request("PATCH", path, dict(query, dryRun="All"), obj, APPLY), action
            except KubeApiError as exc:
                if not immutable(exc, obj, current):
                    raise
            # The real run deletes and creates it again: say so, write nothing.
            extra["reason"] = "%s is immutable: the run deletes and creates it again" % REPLACED_FIELD
            return obj, "replaced"
        try:
            status, after = self.client.send("PATCH", path, query, obj, APPLY)
            return after, "created" if status == 201 else action
        except KubeApiError as exc:
            if not immutable(exc, obj, current):
                raise
        # A Job's template cannot change in place: replace the finished Job.
        self.client.request("DELETE", path, {"propagationPolicy": "Background"})
        extra["reason"] = "%s is immutable: deleted and created again" % REPLACED_FIELD
        return self.client.request("PATCH", path, query, obj, APPLY), "replaced"

    def prune(self, settings, desired, live, report):
        """Delete what we created earlier for these components and no longer render, newest
        dependants first; Namespaces and volumes are only reported (they hold data)."""
        wanted = {ko.key(o) for o in desired}
        stale = [o for k, o in live.items() if k not in wanted
                 and (o["metadata"].get("labels") or {}).get(ko.LABEL_ROLE) in settings.components]
        for obj in reversed(ko.ordered(stale)):
            if obj["kind"] in settings.kept_kinds and obj["kind"] not in ko.PROTECTED_KINDS:
                report.note(obj, "kept", reason="a rollback deletes no %s; delete it by hand if it is not needed"
                            % obj["kind"])
                continue
            if obj["kind"] in ko.PROTECTED_KINDS:
                report.note(obj, "orphaned", reason="kept: %s holds data; delete it by hand" % obj["kind"])
                continue
            report.diff_gone(obj, ko.ident(obj), "(deleted)")
            if not settings.check:
                res = self.serves(obj["apiVersion"], obj["kind"])
                self.client.request("DELETE", self.client.path(
                    obj["apiVersion"], res, obj["metadata"]["namespace"], obj["metadata"]["name"]),
                    {"propagationPolicy": "Background"})
            report.note(obj, "deleted")

    def write_records(self, settings, desired, records):
        """Record which kinds each component applied in each namespace; a write only when they
        change. Returns the namespaces whose record was written."""
        labels = {ko.LABEL_MANAGED_BY: ko.MANAGED_BY, ko.LABEL_TENANT: settings.tenant}
        if settings.environment:
            labels[ko.LABEL_ENVIRONMENT] = settings.environment
        written = []
        for namespace in sorted(namespaces_of(settings, desired)):
            previous = records.get(namespace)
            kinds = ko.next_record(previous, desired, namespace, settings.components)
            if kinds != previous and (kinds or previous):
                self.client.request("PATCH", self.client.path("v1", CONFIGMAPS, namespace, ko.RECORD_NAME),
                                    settings.apply_query, ko.record_object(namespace, labels, kinds), APPLY)
                written.append(namespace)
        return written

    # -- the wait ----------------------------------------------------------------------
    def wait(self, applied, timeout):
        """The one optional wait: Deployments and StatefulSets ready, Jobs complete, polled every
        POLL_SECONDS within one deadline for all. Raises WorkloadFailed at once for a failed Job,
        WaitTimeout naming the first workload still not ready when the time is up. Returns the
        number of polls (GETs) it sent."""
        deadline = self._clock() + timeout
        polls = 0
        for obj, res in applied:
            if obj["kind"] not in READY_KINDS:
                continue
            meta = obj["metadata"]
            path = self.client.path(obj["apiVersion"], res, meta["namespace"], meta["name"])
            while True:
                current = self.client.request("GET", path)
                polls += 1
                failure = job_failure(current)
                if failure:
                    raise WorkloadFailed("%s failed: %s" % (ko.ident(obj), failure))
                if is_ready(current):
                    break
                left = deadline - self._clock()
                if left <= 0:
                    raise WaitTimeout("%s is not ready after %d s (%s)" % (ko.ident(obj), timeout, progress(current)))
                self._sleep(min(POLL_SECONDS, left))
        return polls


def releases(service, settings, release, state):
    """The tenant's releases, oldest first (one LIST by label; none in a namespace made now)."""
    if release.namespace in state.new_namespaces:
        return []
    return k8s_release.list_releases(service, settings, release.namespace)


def changed(report):
    return any(i["action"] in CHANGES for i in report.objects)


def converge(service, settings, desired, release=None, keep=()):
    """The apply, step by step (kubernetes.core's runner): read, refuse or go on, write what
    differs, prune, record the kinds, record a release when something changed, wait. Returns
    the Report; raises ApplyError (with what was done before) when a step fails.

    ``release``: a k8s_release.ReleaseSettings, or None to record none. ``keep``: objects left as
    they are live, neither applied nor pruned (a rollback's Secrets, whose values a release does
    not hold, and its volumes); one not there is created, but a Secret, which stops the run."""
    report = Report()
    keep = list(keep)
    try:
        state = service.live_state(settings, list(desired) + keep)
        gone = [o for o in keep if state.found.get(ko.key(o)) is None]
        missing = [ko.ident(o) for o in gone if o["kind"] == "Secret"]
        if gone and not missing:
            keep = [o for o in keep if o not in gone]
            desired = ko.ordered(list(desired) + gone)
        if missing:
            raise ApplyError("nothing was changed: %s %s not in the cluster, and a release keeps no Secret "
                             "value: run site.yml to make %s again"
                             % (", ".join(missing), "is" if len(missing) == 1 else "are",
                                "it" if len(missing) == 1 else "them"))
        live, adopted = service.check_before_writing(settings, desired, state)
        applied = service.apply(settings, desired, live, adopted, state.new_namespaces, report)
        if settings.prune:
            service.prune(settings, list(desired) + keep, live, report)
        if not settings.check:
            service.write_records(settings, list(desired) + keep, state.records)
        if release is not None and changed(report):
            previous = releases(service, settings, release, state)
            if settings.check:
                report.release = {"revision": previous[-1].revision + 1 if previous else 1, "recorded": False}
            else:
                served = [o for o, _ in applied] + keep
                report.release = k8s_release.record(service, settings, release, served, previous)
        if settings.wait and not settings.check:
            service.wait(applied, settings.wait_timeout)
    except ApplyError as exc:
        exc.done = list(report.objects)
        raise
    except k8s_release.ReleaseError as exc:
        raise ApplyError("release: %s (done before the error: %s)" % (exc, report.done_words()), report.objects)
    except KubeApiError as exc:
        raise ApplyError("Kubernetes API: %s (done before the error: %s)" % (exc, report.done_words()),
                         report.objects)
    return report


def history(service, settings, namespace):
    """The tenant's releases in namespace, oldest first, each in a line's worth of fields (one LIST)."""
    found = k8s_release.list_releases(service, settings, namespace)
    current = found[-1].revision if found else None
    return [k8s_release.summary(r, current) for r in found]


def rollback(service, settings, release, revision):
    """Go back to a release: re-apply its objects but its Secrets (a release holds no Secret
    value: the live ones stay as they are, and must be there), prune what it did not have (never
    a PersistentVolumeClaim, Namespace or Secret), and record the outcome as a new release, as
    Helm does. ``revision`` 0 is the release before the current one. Returns ``(the release gone
    back to, Report)``; raises ReleaseError (before any write) when that release is not kept."""
    found = k8s_release.list_releases(service, settings, release.namespace)
    target, current = k8s_release.pick(found, revision, settings.tenant, release.namespace)
    apply, keep = k8s_release.split_for_rollback(target.objects)
    components = frozenset(target.content.get("components") or []) | frozenset(current.content.get("components") or [])
    settings = replace(settings, components=components, kept_kinds=k8s_release.KEPT_KINDS)
    release = replace(release, source="rollback", rollback_of=target.revision)
    return target, converge(service, settings, apply, release=release, keep=keep)
