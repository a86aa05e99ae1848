"""Users kept as data (airflow_users) against a real Airflow 3.3.2 on a real PostgreSQL.

The airflow role's own tasks (tasks/users.yml, which the local target runs once the api-server is
healthy) run through ansible-playbook against one throwaway api-server (tests/lib/airflow_server.py):
converge makes the listed users, a rerun changes nothing, a user taken off the list is removed, and
nobody the list did not make is. Passwords reach the play from a 0600 extra-vars file, as from a vault.
"""

from __future__ import annotations

import json
import secrets
import sys

import pytest

from conftest import REPO, Ansible, failure_messages
from lib.airflow_server import AirflowServer
from lib.pgserver import PgServer

TASK = "Keep the users of airflow_users (and remove those taken off the list)"
ROLES_TASK = "Keep the roles of airflow_roles, with exactly their permissions (and remove those taken off the list)"


@pytest.fixture(scope="module")
def airflow():
    with PgServer() as pg, AirflowServer(pg) as server:
        yield server


class Converge:
    """Runs the airflow role's users.yml with a given airflow_users."""

    def __init__(self, airflow, folder):
        self.airflow = airflow
        self.folder = folder
        self.ansible = Ansible(folder)
        (folder / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        self.playbook = folder / "users.yml"
        self.playbook.write_text(json.dumps([{
            "name": "Airflow users as data", "hosts": "localhost", "gather_facts": False,
            "tasks": [{"name": "Keep the users", "ansible.builtin.include_role": {
                "name": "edp.platform.airflow", "tasks_from": "users.yml"}}]}]))

    def run(self, users, *args, no_log=False, roles=()):
        """edp_no_log off unless asked: the module's results are read, and its own masking is what keeps
        the passwords out of the output."""
        return self.ansible.playbook(str(self.playbook), str(self.folder / "hosts.yml"), *args, vault=False,
                                     extra_vars={"airflow_users": users, "airflow_roles": list(roles),
                                                 "edp_no_log": no_log, "edp_target": "local",
                                                 "airflow_users_url": self.airflow.url,
                                                 "airflow_admin_username": self.airflow.admin_username,
                                                 "airflow_users_admin_password": self.airflow.admin_password})

    def result(self, run):
        return run.task_results(TASK)["localhost"]


def user(name, roles, password=None):
    entry = {"username": name, "email": "%s@example.com" % name, "first_name": name.title(), "last_name": "Tester",
             "roles": roles}
    if password:
        entry["password"] = password
    return entry


def roles_of(airflow, name):
    found = airflow.get_user(name)
    return None if found is None else sorted(r["name"] for r in found["roles"])


def ok(run):
    assert run.rc == 0, failure_messages(run)
    return run


def test_converge_creates_the_users_a_rerun_changes_nothing_and_a_dropped_user_is_removed(airflow, tmp_path):
    converge = Converge(airflow, tmp_path)
    tag = secrets.token_hex(2)
    ann, ben = "ann" + tag, "ben" + tag
    passwords = {ann: "pw-" + secrets.token_urlsafe(12), ben: "pw-" + secrets.token_urlsafe(12)}
    # A user made by hand, beside the list: never the list's to remove.
    airflow.create_user("hand" + tag, "pw-" + secrets.token_urlsafe(12), "Viewer")
    listed = [user(ann, ["Op"], passwords[ann]), user(ben, ["Viewer", "User"], passwords[ben])]

    run = ok(converge.run(listed))
    assert run.changed() == 1 and sorted(converge.result(run)["created"]) == sorted([ann, ben])
    assert roles_of(airflow, ann) == ["Op"] and roles_of(airflow, ben) == ["User", "Viewer"]
    assert airflow.token(ann, passwords[ann]) and airflow.token(ben, passwords[ben]), "a listed user cannot log in"

    run = ok(converge.run(listed))
    assert run.changed() == 0, converge.result(run)
    writes = [r for r in converge.result(run)["requests"] if not r.startswith("GET ") and r != "POST /auth/token"]
    assert writes == [], "a rerun with nothing to change wrote: %s" % writes

    run = ok(converge.run(listed[:1]))
    assert run.changed() == 1 and converge.result(run)["removed"] == [ben]
    assert airflow.get_user(ben) is None, "the user taken off the list is still there"
    assert airflow.get_user(ann) is not None and airflow.get_user("hand" + tag) is not None
    assert airflow.get_user(airflow.admin_username) is not None, "the admin was removed"
    assert ok(converge.run(listed[:1])).changed() == 0


def test_roles_and_a_password_changed_in_the_vault_are_applied(airflow, tmp_path):
    converge = Converge(airflow, tmp_path)
    name = "cat" + secrets.token_hex(2)
    old, new = "pw-" + secrets.token_urlsafe(12), "pw-" + secrets.token_urlsafe(12)
    ok(converge.run([user(name, ["Viewer"], old)]))
    run = ok(converge.run([user(name, ["Op"], new)]))
    assert converge.result(run)["updated"] == {name: ["password", "roles"]} or \
        converge.result(run)["updated"] == {name: ["roles", "password"]}, converge.result(run)
    assert roles_of(airflow, name) == ["Op"]
    assert airflow.token(name, new) and airflow.token(name, old) is None


def test_a_directory_user_needs_no_password_and_keeps_the_roles_its_login_gives(airflow, tmp_path):
    converge = Converge(airflow, tmp_path)
    name = "dir" + secrets.token_hex(2)
    run = ok(converge.run([user(name, ["Viewer"])]))
    assert converge.result(run)["created"] == [name] and roles_of(airflow, name) == ["Viewer"]
    # Its groups gave it another role at a login (as the LDAP tests show): the list does not undo it.
    status, _ = airflow.request("PATCH", "/auth/fab/v1/users/%s?update_mask=roles" % name,
                                {"roles": [{"name": "Op"}]}, token=airflow.token())
    assert status == 200
    assert ok(converge.run([user(name, ["Viewer"])])).changed() == 0
    assert roles_of(airflow, name) == ["Op"]


@pytest.mark.parametrize("no_log", [False, True])
def test_no_password_shows_at_the_highest_verbosity(airflow, tmp_path, no_log):
    converge = Converge(airflow, tmp_path)
    name = "eve" + secrets.token_hex(2)
    password = "pw-" + secrets.token_urlsafe(16)
    for listed in ([user(name, ["Viewer"], password)], [user(name, ["Op"], password)], []):
        run = ok(converge.run(listed, "-vvvv", no_log=no_log))
        for secret in (password, airflow.admin_password):
            assert secret not in run.output, "a password shows in the -vvvv output"


def test_a_role_of_our_own_gets_exactly_its_permissions_and_goes_when_dropped(airflow, tmp_path):
    converge = Converge(airflow, tmp_path)
    tag = secrets.token_hex(2)
    role, name, password = "Auditor" + tag, "aud" + tag, "pw-" + secrets.token_urlsafe(12)
    reads = [{"action": "can_read", "resource": "DAGs"}]
    auditor = {"name": role, "permissions": reads}
    run = ok(converge.run([user(name, [role], password)], roles=[auditor]))
    assert run.task_results(ROLES_TASK)["localhost"]["created"] == [role]
    token = airflow.token(name, password)
    assert airflow.request("GET", "/api/v2/dags", token=token)[0] == 200, "the role's can_read on DAGs is missing"
    status, _ = airflow.request("POST", "/api/v2/dags/no_such_dag/dagRuns", {"logical_date": None}, token=token)
    assert status == 403, "a role that only reads DAGs may trigger one"
    assert ok(converge.run([user(name, [role], password)], roles=[auditor])).changed() == 0

    wider = {"name": role, "permissions": reads + [{"action": "can_create", "resource": "DAG Runs"}]}
    run = ok(converge.run([user(name, [role], password)], roles=[wider]))
    assert run.task_results(ROLES_TASK)["localhost"]["updated"] == [role]
    status, body = airflow.request("GET", "/auth/fab/v1/roles/%s" % role, token=airflow.token())
    assert sorted((a["action"]["name"], a["resource"]["name"]) for a in body["actions"]) == [
        ("can_create", "DAG Runs"), ("can_read", "DAGs")]

    run = ok(converge.run([user(name, ["Viewer"], password)]))
    assert run.task_results(ROLES_TASK)["localhost"]["removed"] == [role]
    assert airflow.request("GET", "/auth/fab/v1/roles/%s" % role, token=airflow.token())[0] == 404
    assert roles_of(airflow, name) == ["Viewer"]
