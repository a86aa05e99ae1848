"""airflow_user against a real Airflow 3.3.2 (FAB auth manager) on a real PostgreSQL.

One PostgreSQL and one Airflow api-server for the module (tests/lib/airflow_server.py; the
Airflow virtualenv is built from requirements-airflow.txt on first use). Every test manages a
user of its own through Ansible, as users run it (JSON callback), and checks the result on
the server through the REST API. Passwords reach the playbook through the environment
(``lookup('env', ...)``), never on a command line.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import time

import pytest
import yaml

from conftest import Ansible, failure_messages
from lib.airflow_server import AirflowServer, free_port
from lib.pgserver import PgServer

TASK = "Manage the Airflow user"


# A short token lifetime, as the airflow role sets one (airflow_jwt_expiration, rendered into
# AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME), so that a test can watch a token die; long enough for
# every module run here. The FAB auth manager's user cache keeps its default (30 s).
JWT_LIFETIME = 45
JWT_LEEWAY = 10  # Airflow's [api_auth] jwt_leeway default: a token is accepted this long after exp
FAB_CACHE_TTL = 30  # the FAB provider's [fab] cache_ttl default


@pytest.fixture(scope="module")
def airflow():
    with PgServer() as pg, AirflowServer(pg, extra_env={"AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME": JWT_LIFETIME}) as server:
        yield server


class Users:
    """Runs edp.platform.airflow_user for one user through ansible-playbook."""

    def __init__(self, airflow, folder, username):
        self.airflow = airflow
        self.folder = folder
        self.username = username
        self.password = "usr-" + secrets.token_urlsafe(16)
        self.ansible = Ansible(folder)
        inventory = folder / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        self.inventory = inventory

    def run(self, *args, admin_password=None, password=None, json_output=True, **options):
        """One task; ``password=False`` leaves the password option out."""
        task = {"url": self.airflow.url, "admin_username": self.airflow.admin_username,
                "admin_password": "{{ lookup('env', 'EDP_TEST_AIRFLOW_ADMIN_PASSWORD') }}",
                "username": self.username}
        if password is not False:
            task["password"] = "{{ lookup('env', 'EDP_TEST_AIRFLOW_USER_PASSWORD') }}"
        task.update(options)
        playbook = self.folder / "user.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Airflow users", "hosts": "localhost", "gather_facts": False,
                                             "tasks": [{"name": TASK, "edp.platform.airflow_user": task}]}],
                                           sort_keys=False))
        env = {"EDP_TEST_AIRFLOW_ADMIN_PASSWORD": admin_password or self.airflow.admin_password,
               "EDP_TEST_AIRFLOW_USER_PASSWORD": password or self.password}
        return self.ansible.playbook(str(playbook), str(self.inventory), *args, vault=False,
                                     json_output=json_output, env=env)

    def present(self, *args, **options):
        defaults = {"first_name": "Test", "last_name": self.username, "email": "%s@example.com" % self.username,
                    "roles": ["Viewer"]}
        return self.run(*args, **dict(defaults, **options))

    def result(self, run):
        return run.task_results(TASK)["localhost"]

    def on_server(self):
        user = self.airflow.get_user(self.username)
        if user is not None:
            user["roles"] = sorted(role["name"] for role in user.get("roles") or [])
        return user


def ok(run):
    assert run.rc == 0, failure_messages(run)
    return run


def failed(run, users):
    assert run.rc != 0, "the run should have failed:\n" + run.output[-2000:]
    return users.result(run)["msg"]


@pytest.fixture
def users(airflow, tmp_path, request):
    name = "u" + request.node.name.replace("test_", "")[:24].replace("_", "-") + "-" + secrets.token_hex(2)
    return Users(airflow, tmp_path, name)


# -- present, idempotent, absent ----------------------------------------------------------

def test_create_user_reports_changed_and_the_user_has_exactly_its_roles(users):
    run = ok(users.present(roles=["Viewer", "User"]))
    assert run.changed() == 1
    assert users.result(run)["changes"] == ["created"]
    server = users.on_server()
    assert server["roles"] == ["User", "Viewer"]
    assert server["email"] == "%s@example.com" % users.username


def test_rerun_changes_nothing_and_sends_no_write(users):
    ok(users.present(roles=["Viewer", "User", "Op"]))
    run = ok(users.present(roles=["Op", "Viewer", "User"]))
    assert run.changed() == 0, users.result(run)
    writes = [r for r in users.result(run)["requests"] if not r.startswith("GET ") and r != "POST /auth/token"]
    assert writes == []


def test_changing_roles_leaves_exactly_the_new_set(users):
    ok(users.present(roles=["Viewer", "User"]))
    run = ok(users.present(roles=["Op"]))
    assert run.changed() == 1 and users.result(run)["changes"] == ["roles"]
    assert users.on_server()["roles"] == ["Op"]


def test_check_mode_reports_the_change_and_changes_nothing_on_the_server(users):
    run = ok(users.present("--check"))
    assert run.changed() == 1
    assert users.on_server() is None, "check mode created the user"
    ok(users.present(roles=["Viewer"]))
    run = ok(users.present("--check", roles=["Op", "Viewer"], email="other-%s@example.com" % users.username))
    assert run.changed() == 1 and users.result(run)["changes"] == ["email", "roles"]
    server = users.on_server()
    assert server["roles"] == ["Viewer"] and server["email"] == "%s@example.com" % users.username


def test_diff_shows_the_change_without_a_password(users):
    ok(users.present(roles=["Viewer"]))
    new_password = "new-" + secrets.token_urlsafe(12)
    run = ok(users.present("--diff", roles=["Viewer", "Op"], update_password="always", password=new_password))
    diff = users.result(run)["diff"]
    diff = diff[0] if isinstance(diff, list) else diff
    assert diff["before"]["roles"] == ["Viewer"] and diff["after"]["roles"] == ["Op", "Viewer"]
    assert diff["before"]["password"] != diff["after"]["password"], "a password change should show"
    assert new_password not in run.output and users.password not in run.output


def test_update_password_always_with_the_same_password_is_no_change(users):
    ok(users.present())
    run = ok(users.present(update_password="always"))
    assert run.changed() == 0, users.result(run)
    assert users.airflow.token(users.username, users.password), "the password should still work"


def test_update_password_always_with_a_new_password_changes_it(users):
    ok(users.present())
    new_password = "new-" + secrets.token_urlsafe(12)
    run = ok(users.present(update_password="always", password=new_password))
    assert run.changed() == 1 and users.result(run)["changes"] == ["password"]
    assert users.airflow.token(users.username, new_password), "the new password gets no token"
    assert users.airflow.token(users.username, users.password) is None, "the old password still works"
    assert ok(users.present(update_password="always", password=new_password)).changed() == 0


def test_update_password_on_create_leaves_an_existing_password(users):
    ok(users.present())
    run = ok(users.present(password="other-" + secrets.token_urlsafe(12)))
    assert run.changed() == 0
    assert users.airflow.token(users.username, users.password)


def test_delete_reports_changed_and_again_not(users):
    ok(users.present())
    run = ok(users.run(state="absent", password=False))
    assert run.changed() == 1 and users.on_server() is None
    assert ok(users.run(state="absent", password=False)).changed() == 0


# -- the user's rights ----------------------------------------------------------------------

def test_a_created_viewer_gets_a_token_and_cannot_create_users(users):
    ok(users.present(roles=["Viewer"]))
    token = users.airflow.token(users.username, users.password)
    assert token, "the created user cannot log in"
    status, _ = users.airflow.request("GET", "/api/v2/dags", token=token)
    assert status == 200, "a Viewer should read DAGs"
    status, body = users.airflow.request("POST", "/auth/fab/v1/users", {
        "username": "intruder", "password": "x" * 12, "first_name": "I", "last_name": "N",
        "email": "intruder@example.com", "roles": [{"name": "Admin"}]}, token=token)
    assert status == 403, "a Viewer created a user: %s %s" % (status, body)
    assert users.airflow.get_user("intruder") is None


# -- clear failures -------------------------------------------------------------------------

def test_wrong_admin_password_fails_saying_so(users):
    msg = failed(users.present(admin_password="wrong-" + secrets.token_hex(8)), users)
    assert msg == "cannot log in to Airflow at %s as %s: wrong user name or password" % (
        users.airflow.url, users.airflow.admin_username)


def test_unknown_role_fails_naming_it_and_the_roles_that_exist(users):
    msg = failed(users.present(roles=["Viewer", "DataWizard"]), users)
    assert "unknown role 'DataWizard' for user %s" % users.username in msg
    assert "Admin, Op, Public, User, Viewer" in msg
    assert users.on_server() is None


def test_unreachable_server_fails_naming_the_url_and_the_reason(users):
    url = "http://127.0.0.1:%d" % free_port()
    msg = failed(users.present(url=url, timeout=5), users)
    assert msg.startswith("cannot reach Airflow at %s: " % url) and "refused" in msg.lower(), msg


def test_a_verbose_run_prints_no_password(users):
    new_password = "new-" + secrets.token_urlsafe(12)
    runs = [users.present("-vvv", "--diff", json_output=False),
            users.present("-vvv", "--diff", update_password="always", password=new_password, json_output=False),
            users.present("-vvv", roles=["NoSuchRole"], json_output=False)]
    assert runs[0].rc == 0 and runs[1].rc == 0 and runs[2].rc != 0, runs[-1].output[-2000:]
    for run in runs:
        for secret in (users.airflow.admin_password, users.password, new_password):
            assert secret not in run.output, "a password was printed"
    assert "unknown role 'NoSuchRole'" in runs[2].output


# -- tokens issued before a removal or a password change -------------------------------------
# What Airflow 3.3.2 with apache-airflow-providers-fab 3.10.2 does (read in its source): a JWT
# names the user by id only (FabAuthManager.serialize_user: {"sub": id}); every request looks
# the user up by that id and refuses one that is gone or inactive (deserialize_user), through a
# per-process cache of [fab] cache_ttl seconds. Nothing in a token or in the check refers to the
# password, and Airflow keeps no list of the tokens it issued (revoked_token holds only those
# revoked by a logout, which needs the token itself): a password change ends no token.

def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def wait_for_refusal(airflow, token, seconds, refused=(401,)):
    """(seconds, answer) once the api-server refuses the token (a status of ``refused``; a 403
    only as an invalid token, not as a missing permission), or None if it still serves it after
    ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        status, body = airflow.request("GET", "/api/v2/dags?limit=1", token=token)
        if status in refused and (status != 403 or body == {"detail": "Invalid JWT token"}):
            return time.monotonic() - started, body
        assert status in (200, 401, 403), (status, body)
        time.sleep(1)
    return None


def test_a_removed_users_token_is_refused_once_the_user_cache_expires(users):
    ok(users.present(roles=["Viewer"]))
    token = users.airflow.token(users.username, users.password)
    status, _ = users.airflow.request("GET", "/api/v2/dags?limit=1", token=token)
    assert status == 200, "the user's token should work before the removal (and fill the user cache)"
    ok(users.run(state="absent", password=False))
    # The api-server's user cache may serve the user up to [fab] cache_ttl longer; then the user
    # it names is not found and Airflow refuses the token as invalid (403, where an expired one
    # is a 401).
    refused = wait_for_refusal(users.airflow, token, FAB_CACHE_TTL + 10, refused=(401, 403))
    assert refused is not None, "a removed user's token still read DAGs %d s after the removal" % (FAB_CACHE_TTL + 10)
    assert refused[1] == {"detail": "Invalid JWT token"}, refused
    # Well before the token's own end: the removal, not the lifetime, ended it.
    assert time.time() < claims(token)["exp"], "the token expired before the check could tell"


def test_a_token_outlives_a_password_change_until_its_configured_lifetime(users):
    ok(users.present(roles=["Viewer"]))
    token = users.airflow.token(users.username, users.password)
    issued = claims(token)
    assert issued["exp"] - issued["iat"] == JWT_LIFETIME, (
        "AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME did not set the token lifetime: %s" % issued)
    new_password = "new-" + secrets.token_urlsafe(12)
    run = ok(users.present(update_password="always", password=new_password))
    assert users.result(run)["changes"] == ["password"]
    assert users.airflow.token(users.username, users.password) is None, "the old password still logs in"
    # The documented limit: the token from before the change still works (beyond the user cache)...
    assert wait_for_refusal(users.airflow, token, min(FAB_CACHE_TTL + 2, issued["exp"] - time.time() - 1),
                            refused=(401, 403)) is None, (
        "the old token was refused after the password change: update the airflow_user docs and README")
    # ...until its lifetime (and Airflow's leeway) is over.
    refused = wait_for_refusal(users.airflow, token, issued["exp"] + JWT_LEEWAY + 10 - time.time())
    assert refused is not None, "the old token outlived its lifetime of %d s" % JWT_LIFETIME
    assert refused[1] == {"detail": "Token Expired"}, refused
    assert time.time() >= issued["exp"], "refused before its lifetime ended: a revocation this test does not expect"
