"""Which objects each template of each role renders, for every tenant of an inventory.

site.yml renders a tenant in one call (edp.platform.k8s_apply), so its output says nothing of
which template wrote which file. To derive what a render must hold from the roles' template
lists (``<role>_k8s_templates``) rather than from a list kept by hand, the tests run this
file as an action plugin (``edp_template_objects``) beside a one-task playbook: with the
host's variables, as k8s_apply does, it renders each listed template on its own and returns
the file name render mode gives each object, and whether it is a Secret (written apart).
"""

from __future__ import annotations

import json
import pathlib
import shutil

import yaml

try:  # inside ansible-playbook (as an action plugin); the test process only needs run()
    from ansible.plugins.action import ActionBase

    from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
    from ansible_collections.edp.platform.plugins.module_utils import k8s_render
    from ansible_collections.edp.platform.plugins.plugin_utils import roles as role_files
except ImportError:  # pragma: no cover
    ActionBase = object

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
TASK = "Render each template on its own"


def site_roles():
    """The roles site.yml renders for a Kubernetes tenant, in its order (its first play's edp_roles)."""
    plays = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    return plays[0]["vars"]["edp_roles"]


class ActionModule(ActionBase):
    """``{role: {template: [{"file": name, "secret": bool}]}}`` for this host."""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        roles = self._task.args["roles"]
        variables = role_files.variables(self._loader, ["edp"] + roles, task_vars or {})
        found = {}
        for role in roles:
            key = "%s_k8s_templates" % role
            for name in self._templar.template(variables[key]):
                objects = role_files.render_objects(self._loader, self._templar, role, dict(variables, **{key: [name]}))
                found.setdefault(role, {})[name] = [
                    {"file": ko.render_filename(obj), "secret": k8s_render.is_secret(obj)} for obj in objects]
        result["templates"] = found
        return result


def render_by_template(ansible, folder, inventory, **extra_vars):
    """``{tenant: {role: {template: [{"file", "secret"}]}}}`` for every tenant of ``inventory``
    (an ``Ansible`` of tests/conftest.py runs it, with the same extra variables a render gets)."""
    folder = pathlib.Path(folder)
    (folder / "action_plugins").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(__file__, folder / "action_plugins" / "edp_template_objects.py")
    playbook = folder / "template_objects.yml"
    playbook.write_text(json.dumps([{
        "name": "Objects by template", "hosts": "tenants", "gather_facts": False,
        "roles": [{"role": "edp.platform.edp"}], "vars": {"edp_roles": site_roles()},
        "tasks": [{"name": TASK, "edp_template_objects": {"roles": "{{ edp_roles }}"}}]}]))
    run = ansible.playbook(str(playbook), inventory, extra_vars=extra_vars)
    assert run.rc == 0, run.output[-3000:]
    return {host: result["templates"] for host, result in run.task_results(TASK).items()}
