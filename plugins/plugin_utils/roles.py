# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""What the controller-side plugins know about the collection's roles.

A role declares its variables in meta/argument_specs.yml (with their defaults: a test
keeps them equal to defaults/main.yml), its constants in vars/main.yml (the templates it
renders, ``<role>_k8s_templates``; the checks a spec cannot express, ``<role>_input_checks``)
and one Kubernetes object per file in templates/. The validate and k8s_apply actions read
those files here, so site.yml needs one task per tenant for each, not one per role.
"""

from __future__ import annotations

import os

import yaml
from jinja2 import Environment, meta
from ansible.errors import AnsibleActionFail
from ansible.template import trust_as_template

# Plain Jinja parses a template to find the variables it uses (Ansible's environment is
# costly to build and not needed for that); libyaml parses the rendered YAML when present.
class _AnyName(dict):
    """Every filter and test name exists: the parse is only read for variable names."""

    def __contains__(self, name):
        return True

    def __missing__(self, name):
        return _identity

    def get(self, name, default=None):
        return dict.get(self, name) or _identity


def _identity(value, *args, **kwargs):
    return value


_PARSER = Environment()
_PARSER.filters = _AnyName(_PARSER.filters)
_PARSER.tests = _AnyName(_PARSER.tests)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "roles"))


def role_path(role, *parts):
    if not os.path.isdir(os.path.join(ROLES_DIR, role)):
        raise AnsibleActionFail("edp.platform has no role %r" % role)
    return os.path.join(ROLES_DIR, role, *parts)


def load(loader, role, *parts):
    """A role's YAML file as Ansible loads it, its templates trusted as in the role itself."""
    path = role_path(role, *parts)
    if not os.path.exists(path):
        return {}
    return loader.load_from_file(path, cache="all", trusted_as_template=True) or {}


def spec(loader, role):
    """The options of a role's argument spec (entry point ``main``, or its only one)."""
    specs = load(loader, role, "meta", "argument_specs.yml").get("argument_specs") or {}
    entry = specs.get("main") or (next(iter(specs.values())) if len(specs) == 1 else None)
    if entry is None:
        raise AnsibleActionFail("role %s has no argument spec in meta/argument_specs.yml" % role)
    return entry.get("options") or {}


def variables(loader, roles, task_vars):
    """What the roles' templates see: documented defaults < the host's variables < role vars."""
    result = {}
    for role in roles:
        for name, option in spec(loader, role).items():
            if "default" in option:
                result[name] = option["default"]
    result.update(task_vars)
    for role in roles:
        result.update(load(loader, role, "vars", "main.yml"))
    return result


def render_objects(loader, templar, role, variables):
    """The role's Kubernetes objects: each of ``<role>_k8s_templates`` rendered and parsed.

    One templar for all of a role's templates (Ansible's template lookup deep-copies every
    variable for each file, which costs more than the rendering). A template may render to
    nothing (an object switched off) or to several YAML documents.
    """
    names = variables.get("%s_k8s_templates" % role)
    if names is None:
        raise AnsibleActionFail("role %s lists no %s_k8s_templates in vars/main.yml" % (role, role))
    folder = role_path(role, "templates")
    sources = {}
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                sources[name] = handle.read()
        except OSError as exc:
            raise AnsibleActionFail("role %s: template %s: %s" % (role, name, exc))
    # Ansible compiles a variable's template each time it is referenced, and role variables
    # reference each other (postgres_path, postgres_conf, ...): resolve every variable the
    # templates use once, then render with the values.
    used = set()
    for source in sources.values():
        used |= meta.find_undeclared_variables(_PARSER.parse(source))
    data_templar = templar.copy_with_new_env(available_variables=variables, searchpath=[folder])
    resolved = dict(variables)
    for name in sorted(used & set(variables)):
        try:
            resolved[name] = data_templar.template(variables[name])
        except Exception:  # e.g. an unset vault variable in a branch the template skips:
            pass  # left as it was, it fails (naming the variable) only if a template uses it
    # Lookups (file, template) search the role's own folders, as in the role's tasks.
    resolved["ansible_search_path"] = [role_path(role)]
    data_templar = templar.copy_with_new_env(available_variables=resolved, searchpath=[folder])
    objects = []
    for name, source in sources.items():
        text = data_templar.template(trust_as_template(source))
        if not text:
            continue
        try:
            docs = [d for d in yaml.load_all(text, Loader=_YAML_LOADER) if d]
        except yaml.YAMLError as exc:
            raise AnsibleActionFail("role %s: template %s does not render to YAML: %s" % (role, name, exc))
        objects.extend(docs)
    return objects
