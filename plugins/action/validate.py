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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("roles",))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        roles = self._task.args.get("roles")
        if not isinstance(roles, list) or not roles:
            raise AnsibleActionFail("validate: roles must be a non-empty list of role names")
        specs = {role: role_files.spec(self._loader, role) for role in roles}
        variables = role_files.variables(self._loader, roles, task_vars)
        templar = self._templar.copy_with_new_env(available_variables=variables)
        errors = []
        for role, options in specs.items():
            values = {}
            for name in options:
                if name in variables:
                    try:
                        values[name] = templar.template(variables[name])
                    except Exception as exc:  # an undefined (often vaulted) variable, named by Ansible
                        errors.append("%s: %s" % (name, getattr(exc, "message", None) or exc))
            checked = ArgumentSpecValidator(_module_spec(options)).validate(values)
            errors += ["%s: %s" % (role, message) for message in checked.error_messages]
            checks = variables.get("%s_input_checks" % role)
            if checks and not checked.error_messages:
                try:
                    errors += input_errors(templar.template(checks))
                except Exception as exc:
                    errors.append("%s: %s" % (role, getattr(exc, "message", None) or exc))
        if errors:
            result["failed"] = True
            result["errors"] = errors
            result["msg"] = "Invalid inventory for %s: %s" % (task_vars.get("inventory_hostname"), "; ".join(errors))
        else:
            result["msg"] = "inputs of %s are valid" % ", ".join(roles)
        result["changed"] = False
        return result
