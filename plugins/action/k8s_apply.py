# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Apply (or render) a tenant's Kubernetes objects in one call.

Runs in the controller process: one keep-alive connection, one LIST per kind to learn
what is there, a server-side apply only for objects that differ, and a prune of what
we created earlier and no longer render. Documentation: plugins/modules/k8s_apply.py.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_render
from ansible_collections.edp.platform.plugins.plugin_utils import roles as role_files
from ansible_collections.edp.platform.plugins.module_utils.kube import (
    KubeApiError,
    KubeClient,
    KubeConfigError,
    load_config,
)

ARGUMENT_SPEC = {
    "objects": {"type": "raw"},
    "components": {"type": "list", "elements": "str"},
    "component": {"type": "str"},
    "tenant": {"type": "str", "required": True},
    "environment": {"type": "str"},
    "namespace": {"type": "str"},
    "labels": {"type": "dict", "default": {}},
    "prune": {"type": "bool", "default": True},
    "adopt": {"type": "bool", "default": False},
    "render_dir": {"type": "str"},
    "render_secret_values": {"type": "bool", "default": True},
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
    "field_manager": {"type": "str", "default": "edp-platform"},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 300},
}
# Options left out of a task are taken from these cross-role variables (roles/common).
FROM_VARS = {
    "tenant": "edp_tenant",
    "environment": "edp_environment",
    "namespace": "edp_namespace",
    "labels": "edp_labels",
    "adopt": "edp_adopt",
    "render_dir": "edp_render_dir",
    "render_secret_values": "edp_render_secret_values",
    "kubeconfig": "edp_kubeconfig",
    "context": "edp_kube_context",
    "wait": "edp_wait",
    "wait_timeout": "edp_wait_timeout",
}
APPLY = "application/apply-patch+yaml"
CONFIGMAPS = {"name": "configmaps", "namespaced": True}
READY_KINDS = {"Deployment", "StatefulSet", "Job"}
REPLACED_FIELD = "spec.template"  # what makes a Job (ko.RECREATE_ON_IMMUTABLE) be replaced


def is_ready(obj):
    """Whether a workload has done what it was asked (the checks `kubectl rollout status` makes)."""
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    if obj["kind"] == "Job":
        return any(c.get("type") == "Complete" and c.get("status") == "True"
                   for c in status.get("conditions") or [])
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return False
    want = spec.get("replicas", 1)
    return (status.get("updatedReplicas", 0) >= want and status.get("readyReplicas", 0) >= want)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._arguments(task_vars)
        self.summary, self.diffs, self.client, self.rendered = [], [], None, {}
        if not args["render_dir"]:
            try:
                self.client = KubeClient(load_config(args["kubeconfig"], args["context"]))
            except KubeConfigError as exc:
                raise AnsibleActionFail("cannot connect to Kubernetes: %s" % exc)
        try:
            if args["components"]:
                args["objects"] = self._render_components(args, task_vars, result)
            groups = self._groups(ko.plain(args["objects"]))
            desired = self._desired(args, groups)
            if self.client is None:
                self._render(args, desired, set(groups))
            else:
                self._converge(args, desired, set(groups))
        except KubeApiError as exc:
            raise AnsibleActionFail(
                "Kubernetes API: %s (done before the error: %s)"
                % (exc, ", ".join("%s %s %s" % (i["action"], i["kind"], i["name"]) for i in self.summary)
                   or "nothing"))
        finally:
            if self.client is not None:
                self.client.close()
        counts = {}
        for item in self.summary:
            counts[item["action"]] = counts.get(item["action"], 0) + 1
        result["changed"] = any(i["action"] in ("created", "updated", "replaced", "deleted", "written", "removed")
                                for i in self.summary)
        result["objects"] = self.summary
        result["counts"] = counts
        result["msg"] = ", ".join("%d %s" % (n, a) for a, n in sorted(counts.items())) or "nothing to do"
        if self.client is not None:
            result["requests"] = dict(self.client.stats)
        else:
            result["render"] = self.rendered
        if self.diffs and self._task.diff:
            result["diff"] = self.diffs
        return result

    # -- input ---------------------------------------------------------------------------
    def _arguments(self, task_vars):
        """The task's options, with the ones left out taken from the cross-role variables."""
        given = dict(self._task.args)
        for option, var in FROM_VARS.items():
            if option not in given and var in task_vars:
                value = self._templar.template(task_vars[var])
                if value not in ("", None):
                    given[option] = value
        validation = ArgumentSpecValidator(
            ARGUMENT_SPEC, mutually_exclusive=[("objects", "components")],
            required_one_of=[("objects", "components")]).validate(given)
        if validation.error_messages:
            raise AnsibleActionFail("k8s_apply: " + "; ".join(validation.error_messages))
        return ko.plain(validation.validated_parameters)

    def _render_components(self, args, task_vars, result):
        """Render each role's templates here, in one templar: the objects (Secrets among them)
        never pass through facts, and a tenant costs one task, not one per role."""
        variables = role_files.variables(self._loader, ["edp"] + args["components"], task_vars)
        if self._templar.template(variables.get("edp_flavour")) == "auto":
            # OpenShift serves route.openshift.io; render mode, with no cluster, renders for Kubernetes.
            openshift = self.client is not None and self.client.resource("route.openshift.io/v1", "Route")
            variables["edp_flavour"] = "openshift" if openshift else "kubernetes"
        result["flavour"] = self._templar.template(variables.get("edp_flavour"))
        if ("network_policy" in args["components"] and self.client is not None
                and self._templar.template(variables.get("network_policy_kube_api_from_endpoints"))):
            variables["network_policy_kube_api_endpoints"] = self._kube_api_endpoints()
        return {c: role_files.render_objects(self._loader, self._templar, c, variables)
                for c in args["components"]}

    def _kube_api_endpoints(self):
        """The API server's own addresses and port, from the `kubernetes` Endpoints (one GET): what
        a NetworkPolicy sees of a connection to the `kubernetes` Service after translation."""
        found = self._get(self.client.path("v1", {"name": "endpoints", "namespaced": True}, "default", "kubernetes"))
        addresses, ports = [], []
        for subset in (found or {}).get("subsets") or []:
            addresses += [a["ip"] for a in subset.get("addresses") or [] if a.get("ip")]
            ports += [p["port"] for p in subset.get("ports") or [] if p.get("name", "https") == "https"]
        if not addresses or not ports:
            raise AnsibleActionFail("network_policy_kube_api_from_endpoints: the Endpoints default/kubernetes list "
                                    "no address or https port; set network_policy_kube_api_cidrs and _port instead")
        cidrs = ["%s/%d" % (ip, 128 if ":" in ip else 32) for ip in sorted(set(addresses))]
        return {"cidrs": cidrs, "port": ports[0]}

    def _desired(self, args, groups):
        """Every object labelled, hashed, checked for duplicates and put in apply order."""
        labels = {ko.LABEL_MANAGED_BY: ko.MANAGED_BY, ko.LABEL_PART_OF: "edp", ko.LABEL_TENANT: args["tenant"]}
        if args["environment"]:
            labels[ko.LABEL_ENVIRONMENT] = args["environment"]
        labels.update(args["labels"])
        desired, seen = [], set()
        for component, objects in groups.items():
            for obj in objects:
                obj = ko.secret_data_to_base64(obj)
                obj = ko.with_hash(ko.with_labels(obj, dict(labels, **{ko.LABEL_ROLE: component})))
                if ko.key(obj) in seen:
                    raise AnsibleActionFail("%s is rendered twice" % ko.ident(obj))
                seen.add(ko.key(obj))
                desired.append(obj)
        return ko.ordered(desired)

    # -- input ---------------------------------------------------------------------------
    def _groups(self, objects):
        """``{component: [objects]}`` from either form of ``objects``."""
        component = self._task.args.get("component")
        if isinstance(objects, dict):
            if component:
                raise AnsibleActionFail("component is only used when objects is a list")
            groups = objects
        elif isinstance(objects, list):
            if not component:
                raise AnsibleActionFail("component is required when objects is a list")
            groups = {component: objects}
        else:
            raise AnsibleActionFail("objects must be a list, or a mapping of component to list")
        for component, items in groups.items():
            if not isinstance(items, list):
                raise AnsibleActionFail("objects[%s] is not a list" % component)
            for index, obj in enumerate(items):
                problem = ko.check_object(obj, "objects[%s][%d]" % (component, index))
                if problem:
                    raise AnsibleActionFail(problem)
        return groups

    def _note(self, obj, action, **extra):
        meta = obj["metadata"]
        item = {"kind": obj["kind"], "name": meta["name"], "action": action}
        if meta.get("namespace"):
            item["namespace"] = meta["namespace"]
        item.update(extra)
        self.summary.append(item)

    def _diff(self, before, after):
        self.diffs.append({
            "before_header": ko.ident(after), "after_header": ko.ident(after),
            "before": k8s_render.dump(ko.for_display(before)) if before else "",
            "after": k8s_render.dump(ko.for_display(after)),
        })

    # -- render mode -----------------------------------------------------------------------
    def _render(self, args, desired, components):
        """Write the objects as a GitOps export (module_utils/k8s_render.py): the same objects
        the apply path would send, Secrets apart in 0600 files, generated keys kept."""
        try:
            target = k8s_render.RenderTarget(args["render_dir"], args["environment"], args["tenant"])
            done = k8s_render.render(target, desired, components, prune=args["prune"],
                                     check=self._task.check_mode, secret_values=args["render_secret_values"])
        except (k8s_render.RenderError, OSError) as exc:
            raise AnsibleActionFail("render mode: %s" % exc)
        omitted = {}
        for obj, action, before, extra in done:
            if action == "omitted":
                omitted[obj["metadata"]["name"]] = extra["keys"]
            if action == "written" and "mode" not in extra:
                self._diff(before, obj)
            elif action == "removed":
                self.diffs.append({"before_header": extra["path"], "after_header": "(removed)",
                                   "before": k8s_render.dump(ko.for_display(obj)), "after": ""})
            self._note(obj, action, **extra)
        self.rendered = {"manifests": target.manifests, "secrets": target.secrets}
        if not args["render_secret_values"]:
            # Nothing written there: the Secrets (names and keys) the user's secret store provides.
            self.rendered.update(secrets=None, secrets_omitted=omitted)

    # -- apply mode ------------------------------------------------------------------------
    def _live_state(self, args, desired):
        """What the cluster holds where this tenant's objects go, whoever made it: one LIST per kind
        and namespace (reads only) - the kinds rendered now and the kinds the namespace's record
        says were applied before - and a GET per cluster-scoped object (the Namespace). Not only
        our own objects: one made by hand or by another tenant under the same name must stop the
        apply (_check_before_writing)."""
        client = self.client
        live, new_namespaces = {}, set()
        for obj in desired:
            if obj["kind"] in ko.CLUSTER_SCOPED:
                res = client.resource(obj["apiVersion"], obj["kind"])
                if res is None:
                    continue
                live[ko.key(obj)] = current = self._get(client.path(obj["apiVersion"], res, name=obj["metadata"]["name"]))
                if current is None and obj["kind"] == "Namespace":
                    new_namespaces.add(obj["metadata"]["name"])
        namespaces = self._namespaces(args, desired)
        wanted = {(o["apiVersion"], o["kind"]) for o in desired if o["kind"] not in ko.CLUSTER_SCOPED}
        self.records, self.record_problems = {}, []
        for namespace in sorted(namespaces - new_namespaces):
            raw = self._get(client.path("v1", CONFIGMAPS, namespace, ko.RECORD_NAME))
            if raw is not None and not ko.owned_by(raw, args["tenant"], args["environment"]):
                self.record_problems.append("namespace %s holds the objects of %s (its ConfigMap %s says so)"
                                            % (namespace, "tenant %s of environment %s" % ko.owner(raw),
                                               ko.RECORD_NAME))
                raw = None  # not ours: search every kind, to name each object in the way
            self.records[namespace] = record = ko.read_record(raw)
            kinds = set(wanted)
            if record is None:
                kinds.update(ko.PRUNABLE)
            else:
                kinds.update(ko.parse_kind_id(k) for ids in record.values() for k in ids)
            for api_version, kind in sorted(kinds):
                res = client.resource(api_version, kind)
                if res is None:
                    continue
                try:
                    listing = client.request("GET", client.path(api_version, res, namespace))
                except KubeApiError as exc:
                    if exc.status != 404:
                        raise
                    continue
                for item in listing.get("items", []):
                    item.setdefault("apiVersion", api_version)
                    item.setdefault("kind", kind)
                    live[ko.key(item)] = item
        return live, new_namespaces

    @staticmethod
    def _namespaces(args, desired):
        """Where this tenant's objects are: the tenant namespace, the namespaces rendered into and
        the Namespaces rendered - searched even when nothing is rendered into them any more."""
        found = {o["metadata"]["namespace"] for o in desired if o["kind"] not in ko.CLUSTER_SCOPED}
        found.update(o["metadata"]["name"] for o in desired if o["kind"] == "Namespace")
        if args["namespace"]:
            found.add(args["namespace"])
        return found

    def _get(self, path):
        """The object at path, or None when there is none."""
        try:
            return self.client.request("GET", path)
        except KubeApiError as exc:
            if exc.status != 404:
                raise
            return None

    def _write_records(self, args, desired, components, query):
        """Record which kinds each component applied in each namespace; a write only when they change."""
        labels = {ko.LABEL_MANAGED_BY: ko.MANAGED_BY, ko.LABEL_TENANT: args["tenant"]}
        if args["environment"]:
            labels[ko.LABEL_ENVIRONMENT] = args["environment"]
        for namespace in sorted(self._namespaces(args, desired)):
            previous = self.records.get(namespace)
            kinds = ko.next_record(previous, desired, namespace, components)
            if kinds != previous and (kinds or previous):
                self.client.request("PATCH", self.client.path("v1", CONFIGMAPS, namespace, ko.RECORD_NAME),
                                    query, ko.record_object(namespace, labels, kinds), APPLY)

    def _converge(self, args, desired, components):
        client, check = self.client, self._task.check_mode
        found, new_namespaces = self._live_state(args, desired)
        live = self._check_before_writing(args, desired, found)
        query = {"fieldManager": args["field_manager"], "force": "true", "fieldValidation": "Strict"}
        applied = []
        for obj in desired:
            res = client.resource(obj["apiVersion"], obj["kind"])
            if res is None:
                self._note(obj, "skipped", reason="%s/%s is not served by the cluster (CRD not installed)"
                           % (obj["apiVersion"], obj["kind"]))
                continue
            current = live.get(ko.key(obj))
            # Secret keys to generate: read back from the cluster, or made once (never shown).
            generated = ko.fill_generated(obj, current)
            if ko.in_sync(obj, current):
                self._note(obj, "unchanged")
                applied.append((obj, res))
                continue
            path = client.path(obj["apiVersion"], res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            action = "updated" if current is not None else "created"
            extra = {"generated": generated} if generated else {}
            if check and obj["metadata"].get("namespace") in new_namespaces:
                after = obj  # the server cannot dry-run into a namespace that does not exist yet
            elif check:
                try:
                    after = client.request("PATCH", path, dict(query, dryRun="All"), obj, APPLY)
                except KubeApiError as exc:
                    if not self._immutable(exc, obj, current):
                        raise
                    # The real run deletes and creates it again: say so, write nothing.
                    after, action = obj, "replaced"
                    extra["reason"] = "%s is immutable: the run deletes and creates it again" % REPLACED_FIELD
            else:
                after, replaced = self._server_side_apply(obj, res, path, query, current)
                action = "replaced" if replaced else "created" if client.last_status == 201 else action
                if replaced:
                    extra["reason"] = "%s is immutable: deleted and created again" % REPLACED_FIELD
            self._diff(current, after)
            if ko.key(obj) in self.adopted:
                extra["adopted"] = True  # made by hand, labelled and managed from now on
            self._note(obj, action, **extra)
            applied.append((obj, res))
        if args["prune"]:
            self._prune(live, desired, components)
        if not check:
            self._write_records(args, desired, components, query)
        if args["wait"] and not check:
            self._wait(applied, args["wait_timeout"])

    def _check_before_writing(self, args, desired, found):
        """Our live objects, after refusing (with every reason at once) an apply that would
        change another tenant's objects, objects made by hand (unless adopted), or volumes in a
        way the server refuses only after the objects before them were written."""
        tenant, environment = args["tenant"], args["environment"]
        live = {k: o for k, o in found.items() if o is not None and ko.owned_by(o, tenant, environment)}
        problems, adopted = ko.ownership_problems(desired, found, tenant, environment, args["adopt"])
        expandable = {name: self._allows_expansion(name) for name in ko.growing_classes(desired, live)}
        problems = (self.record_problems + problems + ko.volume_problems(desired, live, expandable)
                    + self._missing_crds(desired))
        if problems:
            raise AnsibleActionFail("nothing was changed: %s" % "; ".join(problems))
        self.adopted = set(adopted)
        live.update(adopted)
        return live

    def _missing_crds(self, desired):
        """Custom resources asked for by a variable (ko.ANNOTATION_REQUIRED_BY) whose kind the cluster
        does not serve: an error, where other custom resources without their CRD are skipped."""
        problems = []
        for obj in desired:
            required = ko.required_crd(obj)
            if required and self.client.resource(obj["apiVersion"], obj["kind"]) is None:
                problems.append("%s needs the CRD %s (%s), which the cluster does not serve: install it "
                                "or leave %s empty" % ((ko.ident(obj),) + required[:1]
                                                                       + (obj["apiVersion"],) + required[1:]))
        return problems

    def _allows_expansion(self, storage_class):
        """A StorageClass's allowVolumeExpansion; None when it cannot be read (the server decides)."""
        res = self.client.resource("storage.k8s.io/v1", "StorageClass")
        try:
            found = res and self.client.request("GET", self.client.path("storage.k8s.io/v1", res, name=storage_class))
        except KubeApiError as exc:
            if exc.status not in (403, 404):
                raise
            return None
        return bool(found.get("allowVolumeExpansion")) if found else None

    @staticmethod
    def _immutable(exc, obj, current):
        """Whether the server refused a change of an existing object because a field of it cannot
        change (a Job's template): the apply replaces such an object."""
        return (exc.status == 422 and current is not None and obj["kind"] in ko.RECREATE_ON_IMMUTABLE
                and "immutable" in exc.message)

    def _server_side_apply(self, obj, res, path, query, current):
        """``(object after the apply, whether it was replaced)``."""
        try:
            return self.client.request("PATCH", path, query, obj, APPLY), False
        except KubeApiError as exc:
            if not self._immutable(exc, obj, current):
                raise
        # A Job's template cannot change in place: replace the finished Job.
        self.client.request("DELETE", path, {"propagationPolicy": "Background"})
        return self.client.request("PATCH", path, query, obj, APPLY), True

    def _prune(self, live, desired, components):
        """Delete what we created earlier and no longer render, newest dependants first."""
        wanted = {ko.key(o) for o in desired}
        stale = [o for k, o in live.items() if k not in wanted
                 and (o["metadata"].get("labels") or {}).get(ko.LABEL_ROLE) in components]
        for obj in reversed(ko.ordered(stale)):
            if obj["kind"] in ko.PROTECTED_KINDS:
                self._note(obj, "orphaned", reason="kept: %s holds data; delete it by hand" % obj["kind"])
                continue
            self.diffs.append({"before_header": ko.ident(obj), "after_header": "(deleted)",
                               "before": k8s_render.dump(ko.for_display(obj)), "after": ""})
            if not self._task.check_mode:
                res = self.client.resource(obj["apiVersion"], obj["kind"])
                self.client.request("DELETE", self.client.path(
                    obj["apiVersion"], res, obj["metadata"]["namespace"], obj["metadata"]["name"]),
                    {"propagationPolicy": "Background"})
            self._note(obj, "deleted")

    def _wait(self, applied, timeout):
        """The one optional wait: workloads ready, Jobs complete."""
        deadline = time.monotonic() + timeout
        for obj, res in applied:
            if obj["kind"] not in READY_KINDS:
                continue
            meta = obj["metadata"]
            path = self.client.path(obj["apiVersion"], res, meta["namespace"], meta["name"])
            while not is_ready(self.client.request("GET", path)):
                if time.monotonic() > deadline:
                    raise AnsibleActionFail("%s is not ready after %d s" % (ko.ident(obj), timeout))
                time.sleep(1)
