"""One template of a role, rendered by Ansible with the role's own defaults and vars.

A test that runs a real server on a file the role writes (the airflow role's
``webserver_config.py.j2`` for an Airflow api-server) renders it here rather than keeping a
copy: a play reads the role's settings (its public ``settings.yml``, as other roles' plays do)
and templates the file with the given variables, on the local target.
"""

from __future__ import annotations

import json
import pathlib
import sys

from conftest import REPO, Ansible, failure_messages

TASK = "Render the role's template"


def render_role_template(folder, role: str, template: str, dest, **variables) -> str:
    """Render ``roles/<role>/templates/<template>`` to ``dest`` (0600); its text.

    ``variables`` are passed as extra vars (from a 0600 file: they may hold a secret), over the
    role's defaults and vars; ``edp_target`` is ``local`` unless given.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    playbook = folder / "render-template.yml"
    playbook.write_text(json.dumps([{
        "name": "Render a template of a role", "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "Read the role's settings", "ansible.builtin.include_role": {
                "name": "edp.platform.%s" % role, "tasks_from": "settings.yml", "public": True}},
            {"name": TASK, "no_log": True, "ansible.builtin.template": {
                "src": str(REPO / "roles" / role / "templates" / template), "dest": str(dest), "mode": "0600"}},
        ]}]))
    variables = dict({"edp_target": "local", "edp_tenant": "test", "edp_environment": "local"}, **variables)
    run = Ansible(folder).playbook(str(playbook), str(folder / "hosts.yml"), vault=False, extra_vars=variables)
    assert run.rc == 0, failure_messages(run)
    return pathlib.Path(dest).read_text()
