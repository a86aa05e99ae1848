# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Validate the inputs of several roles in one task (documentation: plugins/modules/validate.py).

Each role's meta/argument_specs.yml (entry point ``main``) is applied to the host's
variables, falling back to the spec's defaults, exactly as Ansible's own role argument
validation does; then the role's ``<role>_input_checks`` (vars/main.yml) are templated and
run through the input_errors checks. Every problem of every role is reported at once.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.edp.platform.plugins.filter.input_errors import input_errors
from ansible_collections.edp.platform.plugins.plugin_utils import roles as role_files

_SPEC_KEYS = ("type", "elements", "choices", "required", "default", "options", "no_log",
              "aliases", "apply_defaults", "required_if", "required_together", "required_one_of",
              "mutually_exclusive", "required_by")


def _module_spec(options):
    """An argument spec as ArgumentSpecValidator wants it (descriptions and such removed)."""
    spec = {}
    for name, option in options.items():
        entry = {k: v for k, v in option.items() if k in _SPEC_KEYS}
        if "options" in entry:
            entry["options"] = _module_spec(entry["options"])
        spec[name] = entry
    return spec


ARGUMENT_SPEC = {"roles": {"type": "list", "elements": "str", "required": True}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        roles = args["roles"]
        if not roles:
            raise AnsibleActionFail("validate: roles must name at least one role")
        specs = {role: role_files.spec(self._loader, role) for role in roles}
        variables = role_files.variables(self._loader, roles, task_vars)
        self._checker = self._templar.copy_with_new_env(available_variables=variables)
        errors, values = [], {}
        for role, options in specs.items():
            for name in options:
                if name in variables:
                    try:
                        values[name] = self._checker.template(variables[name])
                    except Exception as exc:  # an undefined (often vaulted) variable, named by Ansible
                        errors.append("%s: %s" % (name, getattr(exc, "message", None) or exc))
            checked = ArgumentSpecValidator(_module_spec(options)).validate(
                {n: values[n] for n in options if n in values})
            errors += ["%s: %s" % (role, message) for message in checked.error_messages]
            if not checked.error_messages:
                errors += self._input_errors(variables.get("%s_input_checks" % role) or [], values)
        if errors:
            result["failed"] = True
            result["errors"] = errors
            result["msg"] = "Invalid inventory for %s: %s" % (task_vars.get("inventory_hostname"), "; ".join(errors))
        else:
            result["msg"] = "inputs of %s are valid" % ", ".join(roles)
        result["changed"] = False
        return result

    def _input_errors(self, checks, values):
        """Run a role's ``<role>_input_checks`` on the values the spec validated.

        Each check names a variable (``edp_images.postgres`` reaches into a mapping) rather
        than templating its value, so no template is compiled for it: that cost is paid per
        tenant and per check.
        """
        pinned = values.get("edp_environment") in (values.get("edp_pinned_environments") or [])
        resolved = []
        for check in checks:
            if "when" in check and not self._checker.evaluate_conditional(trust_as_template(check["when"])):
                continue
            head, *path = check["var"].split(".")
            value = values[head] if head in values else self._checker.template(self._checker.available_variables[head])
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if check.get("unless_empty") and value in ("", None, [], {}):
                continue
            resolved.append({"name": check["var"], "value": value, "check": check["check"],
                             "pinned": check.get("pinned", pinned), "values": check.get("values"), "why": check.get("why")})
        return input_errors(resolved)
