# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Validate the inputs of several roles in one task (documentation: plugins/modules/validate.py).

Each role's meta/argument_specs.yml (entry point ``main``) is applied to the host's
variables, falling back to the spec's defaults, exactly as Ansible's own role argument
validation does; then the role's ``<role>_input_checks`` (vars/main.yml) are looked up and
run through the input_errors checks; then every variable with a platform prefix that no
role declares is refused (a typo). Every problem of every role is reported at once.
"""

from __future__ import annotations

import difflib
import fnmatch
import re

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


class _Unresolved(Exception):
    """A variable that cannot be templated (its own error is already reported)."""


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys of a check entry that the action consumes; every other key goes to the check as it is.
_ENTRY_KEYS = {"var", "when", "unless_empty", "with", "needs", "platform"}


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
        # The roles' files are read, never changed: no deep copy of the loader's cache.
        specs = {role: role_files.spec(self._loader, role, copy=False) for role in roles}
        variables = role_files.variables(self._loader, roles, task_vars, copy=False)
        self._checker = self._templar.copy_with_new_env(available_variables=variables)
        self._conditions = {}
        self._footprint = None
        self._values = values = {}
        errors, valid = [], []
        for role, options in specs.items():
            for name in options:
                if name in variables and name not in values:
                    try:
                        values[name] = self._checker.template(variables[name])
                    except Exception as exc:  # an undefined (often vaulted) variable, named by Ansible
                        errors.append("%s: %s" % (name, getattr(exc, "message", None) or exc))
        for role, options in specs.items():
            checked = ArgumentSpecValidator(_module_spec(options)).validate(
                {n: values[n] for n in options if n in values})
            errors += ["%s: %s" % (role, message) for message in checked.error_messages]
            if not checked.error_messages:
                valid.append(role)
        # Checks may compare the variables of several roles: they run once every spec has.
        for role in valid:
            errors += self._input_errors(variables.get("%s_input_checks" % role) or [], roles, valid)
        errors += self._undeclared(task_vars)
        errors = list(dict.fromkeys(errors))  # two checks of one value may say the same
        if errors:
            result["failed"] = True
            result["errors"] = errors
            result["msg"] = "Invalid inventory for %s: %s" % (task_vars.get("inventory_hostname"), "; ".join(errors))
        else:
            result["msg"] = "inputs of %s are valid" % ", ".join(roles)
        result["changed"] = False
        return result

    def _lookup(self, path):
        """The value of ``edp_images.postgres`` (a dotted path reaches into a mapping), looked
        up rather than templated: that cost is paid per tenant and per check. None when unset."""
        head, *keys = path.split(".")
        if head in self._values:
            value = self._values[head]
        elif head in self._checker.available_variables:
            try:
                value = self._values[head] = self._checker.template(self._checker.available_variables[head])
            except Exception:
                raise _Unresolved(head)
        else:
            return None
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _condition(self, text):
        """A check's ``when``: a bare variable name is looked up; an expression is evaluated
        once per run (many checks share one)."""
        if text not in self._conditions:
            if _IDENTIFIER.match(text):
                self._conditions[text] = bool(self._lookup(text))
            else:
                self._conditions[text] = self._checker.evaluate_conditional(trust_as_template(text))
        return self._conditions[text]

    def _picked(self, entry):
        """False when an item of a ``<role>_k8s_pods`` or ``_volumes`` list is switched off by its ``if``/``unless``."""
        if not isinstance(entry, dict):
            return True
        if "if" in entry and not self._lookup(entry["if"]):
            return False
        return not ("unless" in entry and self._lookup(entry["unless"]))

    def _platform(self, roles):
        """The pods and volumes of the validated roles (``<role>_k8s_pods``, ``<role>_k8s_volumes``
        in their vars/main.yml), their resources, sizes and replicas looked up."""
        if self._footprint is not None:
            return self._footprint
        pods, volumes = [], []
        for role in roles:
            constants = role_files.load(self._loader, role, "vars", "main.yml", copy=False)
            for pod in constants.get("%s_k8s_pods" % role) or []:
                if not self._picked(pod):
                    continue
                replicas = pod.get("replicas", 1)
                resolved = {"name": pod["name"],
                            "replicas": self._lookup(replicas) if isinstance(replicas, str) else replicas}
                for key in ("containers", "init_containers"):
                    resolved[key] = []
                    for container in pod.get(key) or []:
                        if not self._picked(container):
                            continue
                        path = container["resources"] if isinstance(container, dict) else container
                        resolved[key].append({"name": path, "resources": self._lookup(path)})
                pods.append(resolved)
            for volume in constants.get("%s_k8s_volumes" % role) or []:
                if self._picked(volume):
                    path = volume["size"] if isinstance(volume, dict) else volume
                    volumes.append({"name": path, "size": self._lookup(path)})
        self._footprint = pods, volumes
        return self._footprint

    def _input_errors(self, checks, roles, valid):
        """Run a role's ``<role>_input_checks`` on the values the specs validated.

        Each check names a variable (``var``); ``with`` names others the check compares it to
        (each passed to the check under its key, and its name under ``<key>_name``); ``needs``
        lists roles whose specs must have passed; ``platform: true`` passes the pods and volumes
        of the roles validated (``pods``, ``volumes``).
        """
        try:
            pinned = self._lookup("edp_environment") in (self._lookup("edp_pinned_environments") or [])
        except _Unresolved:
            pinned = True
        resolved = []
        for check in checks:
            if any(role not in valid for role in check.get("needs") or []):
                continue
            try:
                if "when" in check and not self._condition(check["when"]):
                    continue
                value = self._lookup(check["var"])
                if check.get("unless_empty") and value in ("", None, [], {}):
                    continue
                entry = {k: v for k, v in check.items() if k not in _ENTRY_KEYS}
                entry.update(name=check["var"], value=value, pinned=check.get("pinned", pinned))
                for key, path in (check.get("with") or {}).items():
                    entry[key] = self._lookup(path)
                    entry["%s_name" % key] = path
                if check.get("platform"):
                    entry["pods"], entry["volumes"] = self._platform(roles)
            except _Unresolved:
                continue  # the variable's own error is already reported
            resolved.append(entry)
        return input_errors(resolved)

    def _undeclared(self, task_vars):
        """Variables with a platform prefix (``edp_``, ``<role>_``) that no role declares: a typo
        would otherwise be ignored and its default used. Names the collection sets itself
        (register, set_fact, play vars) and those in ``edp_extra_variables`` are not errors."""
        candidates = [name for name in task_vars if name.startswith(role_files.prefixes())]
        options, constants = role_files.declared(self._loader)
        candidates = [name for name in candidates if name not in options and name not in constants]
        if not candidates:
            return []
        try:
            extras = self._lookup("edp_extra_variables") or []
        except _Unresolved:
            extras = []
        extras = [str(pattern) for pattern in extras] if isinstance(extras, list) else []
        candidates = [name for name in candidates if not any(fnmatch.fnmatchcase(name, p) for p in extras)]
        if candidates:
            own = role_files.collection_set_names()
            candidates = [name for name in candidates if name not in own]
        errors = []
        for name in sorted(candidates):
            close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.75)
            errors.append("%s: no role of edp.platform declares this variable (%s)" % (
                name, "did you mean %s?" % close[0] if close
                else "if it is meant, list it in edp_extra_variables"))
        return errors
