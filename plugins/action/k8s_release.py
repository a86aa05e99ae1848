# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""List a tenant's releases, or roll it back to one.

Runs in the controller process, as k8s_apply does. This plugin only reads the task's options
(and the cross-role variables standing in for the ones left out) and turns the outcome into a
task result; the work is module_utils/k8s_service.py's (``history``, ``rollback``) and
module_utils/k8s_release.py's. Documentation: plugins/modules/k8s_release.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.edp.platform.plugins.action.k8s_apply import connect, provenance, task_arguments
from ansible_collections.edp.platform.plugins.module_utils import k8s_release
from ansible_collections.edp.platform.plugins.module_utils import k8s_service as svc
from ansible_collections.edp.platform.plugins.module_utils.kube import KubeApiError

ARGUMENT_SPEC = {
    "operation": {"type": "str", "required": True, "choices": ["history", "rollback"]},
    "revision": {"type": "int", "default": 0},
    "tenant": {"type": "str", "required": True},
    "environment": {"type": "str"},
    "namespace": {"type": "str", "required": True},
    "release_history": {"type": "int", "default": k8s_release.DEFAULT_HISTORY},
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
    "field_manager": {"type": "str", "default": "edp-platform"},
}
FROM_VARS = {
    "tenant": "edp_tenant",
    "environment": "edp_environment",
    "namespace": "edp_namespace",
    "release_history": "edp_release_history",
    "kubeconfig": "edp_kubeconfig",
    "context": "edp_kube_context",
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._arguments(task_vars)
        if args["revision"] < 0:
            raise AnsibleActionFail("revision must be a release's number, or 0 for the one before the current "
                                    "release, not %d" % args["revision"])
        if args["release_history"] < 1:
            raise AnsibleActionFail("release_history must be at least 1, not %d" % args["release_history"])
        service = connect(args)
        settings = svc.Settings(tenant=args["tenant"], environment=args["environment"],
                                namespace=args["namespace"], field_manager=args["field_manager"],
                                check=bool(self._task.check_mode))
        try:
            if args["operation"] == "history":
                result["releases"] = svc.history(service, settings, args["namespace"])
                result["lines"] = [k8s_release.line(item) for item in result["releases"]]
                result["changed"] = False
                result["msg"] = "%d releases of tenant %s in %s" % (len(result["releases"]), args["tenant"],
                                                                   args["namespace"])
                return result
            release = k8s_release.ReleaseSettings(namespace=args["namespace"], history=args["release_history"],
                                                  provenance=lambda: provenance(task_vars))
            target, report = svc.rollback(service, settings, release, args["revision"])
        except k8s_release.ReleaseError as exc:
            raise AnsibleActionFail(str(exc))
        except svc.ApplyError as exc:
            raise AnsibleActionFail(str(exc), result=dict(result, objects=exc.done))
        except KubeApiError as exc:  # before any write: the list of releases, discovery
            raise AnsibleActionFail("Kubernetes API: %s (done before the error: nothing)" % exc)
        finally:
            service.close()
        result["counts"], result["changed"], result["msg"] = svc.summarise(report.objects)
        result["msg"] = "back to revision %d: %s" % (target.revision, result["msg"])
        result["revision"] = target.revision
        result["objects"] = report.objects
        result["requests"] = dict(service.client.stats)
        if report.release is not None:
            result["release"] = report.release
        if report.diffs and self._task.diff:
            result["diff"] = report.diffs
        return result

    def _arguments(self, task_vars):
        """The task's options, with the ones left out taken from the cross-role variables."""
        return task_arguments(self, task_vars, "k8s_release", ARGUMENT_SPEC, FROM_VARS)
