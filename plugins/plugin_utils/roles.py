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

import glob
import os

import yaml
from jinja2 import Environment
from ansible.errors import AnsibleActionFail
from ansible.template import trust_as_template

from ansible_collections.edp.platform.plugins.plugin_utils import compiled_templates

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
COLLECTION_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLES_DIR = os.path.join(COLLECTION_DIR, "roles")
_SET_FACT = {"set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"}
_INCLUDE_VARS = {"include_vars", "ansible.builtin.include_vars", "ansible.legacy.include_vars"}
_TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")
_collection_set_names = None


def role_path(role, *parts):
    if not os.path.isdir(os.path.join(ROLES_DIR, role)):
        raise AnsibleActionFail("edp.platform has no role %r" % role)
    return os.path.join(ROLES_DIR, role, *parts)


def load(loader, role, *parts, copy=True):
    """A role's YAML file as Ansible loads it, its templates trusted as in the role itself.

    ``copy=False`` returns the loader's cached data itself rather than a deep copy (which
    costs more than the parse): for callers that never change it.
    """
    path = role_path(role, *parts)
    if not os.path.exists(path):
        return {}
    return loader.load_from_file(path, cache="all", trusted_as_template=True, unsafe=not copy) or {}


def spec(loader, role, copy=True):
    """The options of a role's argument spec (entry point ``main``, or its only one)."""
    specs = load(loader, role, "meta", "argument_specs.yml", copy=copy).get("argument_specs") or {}
    entry = specs.get("main") or (next(iter(specs.values())) if len(specs) == 1 else None)
    if entry is None:
        raise AnsibleActionFail("role %s has no argument spec in meta/argument_specs.yml" % role)
    return entry.get("options") or {}


def variables(loader, roles, task_vars, copy=True):
    """What the roles' templates see: documented defaults < the host's variables < role vars."""
    result = {}
    for role in roles:
        for name, option in spec(loader, role, copy=copy).items():
            if "default" in option:
                result[name] = option["default"]
    result.update(task_vars)
    for role in roles:
        result.update(load(loader, role, "vars", "main.yml", copy=copy))
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
        used |= compiled_templates.shared().names(_PARSER, source)
    data_templar = _cached(templar.copy_with_new_env(available_variables=variables, searchpath=[folder]))
    resolved = dict(variables)
    for name in sorted(used & set(variables)):
        try:
            resolved[name] = data_templar.template(variables[name])
        except Exception:  # e.g. an unset vault variable in a branch the template skips:
            pass  # left as it was, it fails (naming the variable) only if a template uses it
    # Lookups (file, template) search the role's own folders, as in the role's tasks.
    resolved["ansible_search_path"] = [role_path(role)]
    data_templar = _cached(templar.copy_with_new_env(available_variables=resolved, searchpath=[folder]))
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


def _cached(templar):
    """``templar``, its Jinja environment compiling through the process's cache of compiled
    templates (compiled_templates.py: each tenant renders the same sources in a new worker)."""
    environment = getattr(getattr(templar, "_engine", None), "environment", None)
    if environment is not None:
        compiled_templates.shared().install(environment)
    return templar


def all_roles():
    """Every role of the collection (a folder of roles/)."""
    return sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name)))


def prefixes():
    """The prefixes of the platform's variables: ``edp_`` and ``<role>_`` for every role."""
    return tuple(sorted({"edp_"} | {role + "_" for role in all_roles()}))


def declared(loader):
    """``(options, constants)``: the variables every role declares in its argument spec, and
    the names its vars/main.yml sets."""
    options, constants = set(), set()
    for role in all_roles():
        try:
            options.update(spec(loader, role, copy=False))
        except AnsibleActionFail:
            pass  # a role without a spec declares nothing
        constants.update(load(loader, role, "vars", "main.yml", copy=False))
    return options, constants


def _names_set_by_tasks(tasks, names):
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            continue
        if isinstance(task.get("register"), str):
            names.add(task["register"])
        if isinstance(task.get("vars"), dict):
            names.update(task["vars"])
        loop_control = task.get("loop_control")
        if isinstance(loop_control, dict) and isinstance(loop_control.get("loop_var"), str):
            names.add(loop_control["loop_var"])
        for module in _SET_FACT & set(task):
            if isinstance(task[module], dict):
                names.update(k for k in task[module] if k != "cacheable")
        for module in _INCLUDE_VARS & set(task):
            if isinstance(task[module], dict) and isinstance(task[module].get("name"), str):
                names.add(task[module]["name"])
        for key in _TASK_LISTS:
            if key in task:
                _names_set_by_tasks(task[key], names)


def collection_set_names():
    """Variables the collection sets itself, so that no inventory declares them: play ``vars``
    of playbooks/, and in playbooks/ and every role's tasks ``register``, ``set_fact``, task
    ``vars``, ``loop_var`` and ``include_vars`` names. Read once per process, and only when an
    undeclared name needs explaining (a clean run never reads these files)."""
    global _collection_set_names
    if _collection_set_names is None:
        names = set()
        files = sorted(glob.glob(os.path.join(COLLECTION_DIR, "playbooks", "*.yml")))
        files += sorted(glob.glob(os.path.join(ROLES_DIR, "*", "tasks", "*.yml")))
        files += sorted(glob.glob(os.path.join(ROLES_DIR, "*", "handlers", "*.yml")))
        for path in files:
            with open(path, encoding="utf-8") as handle:
                document = yaml.load(handle, Loader=_YAML_LOADER)
            for item in document if isinstance(document, list) else []:
                if isinstance(item, dict) and ("hosts" in item or "import_playbook" in item):
                    if isinstance(item.get("vars"), dict):
                        names.update(item["vars"])
                    for key in _TASK_LISTS:
                        _names_set_by_tasks(item.get(key), names)
                else:
                    _names_set_by_tasks([item], names)
        _collection_set_names = frozenset(names)
    return _collection_set_names
