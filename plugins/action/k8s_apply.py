# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Apply (or render) a tenant's Kubernetes objects in one call.

Runs in the controller process. This plugin only does what needs Ansible: it reads the task's
options (and the cross-role variables standing in for the ones left out), renders the roles'
templates, and turns the outcome into a task result. The work against the cluster - live
state, apply, prune, the kinds record, the wait - is module_utils/k8s_service.py's; render
mode is module_utils/k8s_render.py's. Documentation: plugins/modules/k8s_apply.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_release
from ansible_collections.edp.platform.plugins.module_utils import k8s_render
from ansible_collections.edp.platform.plugins.module_utils import k8s_service as svc
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
    "release_history": {"type": "int", "default": 0},
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
    "release_history": "edp_release_history",
}


def provenance(task_vars):
    """What a release records of where it came from (read only when one is written)."""
    found = {"collection_version": k8s_release.collection_version(role_files.COLLECTION_DIR)}
    found.update(k8s_release.git_commit(task_vars.get("inventory_dir")))
    return found


def task_arguments(action, task_vars, name, spec, from_vars, **rules):
    """An action's options, with the ones left out taken from the cross-role variables
    (``from_vars``: option -> variable), validated against ``spec`` (``rules``: the validator's
    mutually_exclusive, required_one_of, ...); AnsibleActionFail naming the action otherwise."""
    given = dict(action._task.args)
    for option, var in from_vars.items():
        if option not in given and var in task_vars:
            value = action._templar.template(task_vars[var])
            if value not in ("", None):
                given[option] = value
    validation = ArgumentSpecValidator(spec, **rules).validate(given)
    if validation.error_messages:
        raise AnsibleActionFail(name + ": " + "; ".join(validation.error_messages))
    return ko.plain(validation.validated_parameters)


def connect(args):
    """The apply service on the cluster of the options' kubeconfig and context."""
    try:
        return svc.ApplyService(KubeClient(load_config(args["kubeconfig"], args["context"])))
    except KubeConfigError as exc:
        raise AnsibleActionFail("cannot connect to Kubernetes: %s" % exc)


def release_settings(args, task_vars, **extra):
    """Where the tenant's releases go (its namespace), or None: no namespace, or no history kept."""
    if not args.get("namespace") or not args.get("release_history"):
        return None
    if args["release_history"] < 1:
        raise AnsibleActionFail("release_history must be at least 1 (0 records no release), not %d"
                                % args["release_history"])
    return k8s_release.ReleaseSettings(namespace=args["namespace"], history=args["release_history"],
                                       provenance=lambda: provenance(task_vars), **extra)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._arguments(task_vars)
        service = None if args["render_dir"] else connect(args)
        try:
            if args["components"]:
                args["objects"] = self._render_components(args, task_vars, service, result)
            groups = self._groups(ko.plain(args["objects"]))
            desired = svc.desired_objects(groups, args["tenant"], args["environment"], args["labels"])
            if service is None:
                report, result["render"] = self._render(args, desired, set(groups))
            else:
                report = svc.converge(service, self._settings(args, groups), desired,
                                      release=release_settings(args, task_vars))
                result["requests"] = dict(service.client.stats)
        except svc.ApplyError as exc:
            raise AnsibleActionFail(str(exc), result=dict(result, objects=exc.done))
        except KubeApiError as exc:  # before any write: discovery, the kubernetes Endpoints
            raise AnsibleActionFail("Kubernetes API: %s (done before the error: nothing)" % exc)
        finally:
            if service is not None:
                service.close()
        result["counts"], result["changed"], result["msg"] = svc.summarise(report.objects)
        result["objects"] = report.objects
        if report.release is not None:
            result["release"] = report.release
        if report.diffs and self._task.diff:
            result["diff"] = report.diffs
        return result

    def _settings(self, args, groups):
        return svc.Settings(
            tenant=args["tenant"], environment=args["environment"], namespace=args["namespace"],
            components=frozenset(groups), prune=args["prune"], adopt=args["adopt"],
            field_manager=args["field_manager"], check=bool(self._task.check_mode),
            wait=args["wait"], wait_timeout=args["wait_timeout"])

    # -- input ---------------------------------------------------------------------------
    def _arguments(self, task_vars):
        """The task's options, with the ones left out taken from the cross-role variables."""
        return task_arguments(self, task_vars, "k8s_apply", ARGUMENT_SPEC, FROM_VARS,
                              mutually_exclusive=[("objects", "components")],
                              required_one_of=[("objects", "components")])

    def _render_components(self, args, task_vars, service, result):
        """Render each role's templates here, in one templar: the objects (Secrets among them)
        never pass through facts, and a tenant costs one task, not one per role."""
        # The roles' files as the loader cached them (no deep copy): only top-level names are set below.
        variables = role_files.variables(self._loader, ["edp"] + args["components"], task_vars, copy=False)
        if self._templar.template(variables.get("edp_flavour")) == "auto":
            # OpenShift serves route.openshift.io; render mode, with no cluster, renders for Kubernetes.
            openshift = service is not None and service.serves("route.openshift.io/v1", "Route")
            variables["edp_flavour"] = "openshift" if openshift else "kubernetes"
        result["flavour"] = self._templar.template(variables.get("edp_flavour"))
        if ("network_policy" in args["components"] and service is not None
                and self._templar.template(variables.get("network_policy_kube_api_from_endpoints"))):
            variables["network_policy_kube_api_endpoints"] = service.kube_api_endpoints()
        return {c: role_files.render_objects(self._loader, self._templar, c, variables)
                for c in args["components"]}

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

    # -- render mode -----------------------------------------------------------------------
    def _render(self, args, desired, components):
        """``(report, the task's render result)``: the objects written as a GitOps export
        (module_utils/k8s_render.py) - the same objects the apply path would send, Secrets apart
        in 0600 files, generated keys kept."""
        try:
            target = k8s_render.RenderTarget(args["render_dir"], args["environment"], args["tenant"])
            done = k8s_render.render(target, desired, components, prune=args["prune"],
                                     check=self._task.check_mode, secret_values=args["render_secret_values"])
        except (k8s_render.RenderError, OSError) as exc:
            raise AnsibleActionFail("render mode: %s" % exc)
        report, omitted = svc.Report(), {}
        for obj, action, before, extra in done:
            if action == "omitted":
                omitted[obj["metadata"]["name"]] = extra["keys"]
            if action == "written" and "mode" not in extra:
                report.diff(before, obj)
            elif action == "removed":
                report.diff_gone(obj, extra["path"], "(removed)")
            report.note(obj, action, **extra)
        rendered = {"manifests": target.manifests, "secrets": target.secrets}
        if not args["render_secret_values"]:
            # Nothing written there: the Secrets (names and keys) the user's secret store provides.
            rendered.update(secrets=None, secrets_omitted=omitted)
        return report, rendered
