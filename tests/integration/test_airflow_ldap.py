"""Airflow users from LDAP (airflow_auth: ldap) against a real OpenLDAP and a real Airflow 3.3.2.

slapd (tests/lib/ldap_server.py) holds users in two groups, ``airflow-ops`` (mapped to Op) and
``airflow-viewers`` (mapped to Viewer), over TLS with an authority made for the run: once with
``ldaps://``, once with ``ldap://`` and StartTLS. The Airflow api-server (tests/lib/airflow_server.py)
reads the airflow role's own ``webserver_config.py.j2``, rendered by Ansible with the role's
defaults and vars (tests/lib/role_template.py), the bind password in its environment as the role
gives it (the Secret airflow-auth, or airflow.env). Users log in through ``POST /auth/token``.
"""

from __future__ import annotations

import secrets

import pytest

from lib.airflow_server import AirflowServer
from lib.ldap_server import LdapServer
from lib.pgserver import PgServer
from lib.role_template import render_role_template

OPS, VIEWERS = "airflow-ops", "airflow-viewers"


class Directory:
    """The LDAP server, the Airflow that logs users in through it, and the users' passwords."""

    def __init__(self, ldap, airflow, config_text):
        self.ldap = ldap
        self.airflow = airflow
        self.config_text = config_text
        self.passwords = {}

    def add_user(self, uid, groups=()):
        self.passwords[uid] = "pw-" + secrets.token_urlsafe(12)
        self.ldap.add_user(uid, self.passwords[uid])
        for group in groups:
            self.ldap.add_member(group, uid)
        return uid

    def login(self, uid, password=None):
        """(HTTP status, token or None) of a login through the token endpoint."""
        status, body = self.airflow.request("POST", "/auth/token", {
            "username": uid, "password": self.passwords[uid] if password is None else password})
        return status, (body or {}).get("access_token") if status == 201 else None

    def roles(self, uid):
        """The user's roles in Airflow's database, as the admin reads them through the API."""
        user = self.airflow.get_user(uid)
        return None if user is None else sorted(role["name"] for role in user["roles"])


@pytest.fixture(scope="module", params=["ldaps", "starttls"])
def directory(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ldap-" + request.param)
    with LdapServer(start_tls=request.param == "starttls") as ldap:
        ldap.add_user("placeholder", secrets.token_urlsafe(12))
        ldap.add_group(OPS, [])
        ldap.add_group(VIEWERS, [])
        local_root = folder / "root"
        config = folder / "webserver_config.py"
        config_text = render_role_template(
            folder / "render", "airflow", "webserver_config.py.j2", config,
            edp_local_root=str(local_root),
            airflow_auth="ldap", airflow_ldap_url=ldap.url, airflow_ldap_start_tls=ldap.start_tls,
            airflow_ldap_ca_cert=ldap.ca_pem, airflow_ldap_bind_dn=ldap.bind_dn,
            airflow_ldap_bind_password=ldap.bind_password,
            airflow_ldap_search_base="ou=people,dc=example,dc=com",
            airflow_ldap_roles={ldap.group_dn(OPS): ["Op"], ldap.group_dn(VIEWERS): ["Viewer"]})
        # Where the role writes the authority on the local target (airflow_path.ldap_ca).
        ca = local_root / "test" / "config" / "airflow" / "ldap-ca.crt"
        ca.parent.mkdir(parents=True)
        ca.write_text(ldap.ca_pem)
        with PgServer() as pg, AirflowServer(pg, webserver_config=config, extra_env={
                "EDP_AIRFLOW_LDAP_BIND_PASSWORD": ldap.bind_password}) as airflow:
            yield Directory(ldap, airflow, config_text)


def test_the_rendered_configuration_holds_no_secret_and_verifies_the_server(directory):
    assert directory.ldap.bind_password not in directory.config_text
    assert "AUTH_TYPE = AUTH_LDAP" in directory.config_text
    assert "AUTH_LDAP_TLS_DEMAND = True" in directory.config_text
    assert "AUTH_LDAP_ALLOW_SELF_SIGNED = False" in directory.config_text


def test_each_user_logs_in_through_the_token_endpoint_with_the_role_their_group_maps_to(directory):
    alice = directory.add_user("alice", [OPS])
    bob = directory.add_user("bob", [VIEWERS])
    for uid, role in ((alice, "Op"), (bob, "Viewer")):
        status, token = directory.login(uid)
        assert status == 201 and token, "%s (in the group of %s) could not log in: HTTP %s" % (uid, role, status)
        assert directory.roles(uid) == [role], "%s should have exactly %s" % (uid, role)
        status, _ = directory.airflow.request("GET", "/api/v2/dags", token=token)
        assert status == 200, "%s's token does not read DAGs: HTTP %s" % (uid, status)


def test_a_viewer_is_refused_a_dag_trigger_an_op_is_not(directory):
    """The permission is checked before the DAG is looked up: 403 for a Viewer, 404 (no such DAG,
    but allowed) for an Op."""
    viewer = directory.add_user("vera", [VIEWERS])
    op = directory.add_user("otto", [OPS])
    run = {"logical_date": None}
    _, viewer_token = directory.login(viewer)
    status, body = directory.airflow.request("POST", "/api/v2/dags/no_such_dag/dagRuns", run, token=viewer_token)
    assert status == 403, "a Viewer triggered a DAG run: HTTP %s %s" % (status, body)
    _, op_token = directory.login(op)
    status, body = directory.airflow.request("POST", "/api/v2/dags/no_such_dag/dagRuns", run, token=op_token)
    assert status == 404, "an Op should pass the permission check: HTTP %s %s" % (status, body)


def test_a_wrong_password_is_refused(directory):
    uid = directory.add_user("wanda", [OPS])
    status, token = directory.login(uid, password="wrong-" + secrets.token_urlsafe(8))
    assert status == 401 and token is None
    assert directory.login(uid)[0] == 201, "the right password should still work"


def test_an_unknown_user_is_refused(directory):
    status, body = directory.airflow.request("POST", "/auth/token", {"username": "nobody", "password": "x" * 12})
    assert status == 401, body


def test_a_group_change_changes_the_role_at_the_next_login(directory):
    uid = directory.add_user("carol", [VIEWERS])
    assert directory.login(uid)[0] == 201 and directory.roles(uid) == ["Viewer"]
    directory.ldap.remove_member(VIEWERS, uid)
    directory.ldap.add_member(OPS, uid)
    assert directory.roles(uid) == ["Viewer"], "the role should change at the login, not before"
    assert directory.login(uid)[0] == 201
    assert directory.roles(uid) == ["Op"]


def test_a_user_in_no_mapped_group_is_refused_and_so_is_one_taken_out_of_theirs(directory):
    uid = directory.add_user("nils")
    assert directory.login(uid) == (401, None), "a user in no mapped group got a token"
    other = directory.add_user("olga", [OPS])
    assert directory.login(other)[0] == 201
    directory.ldap.remove_member(OPS, other)
    assert directory.login(other) == (401, None), "a user taken out of every group still logs in"
    assert directory.roles(other) == []


def test_a_directory_account_named_like_the_admin_neither_logs_in_as_it_nor_changes_its_roles(directory):
    """Without the guard, the directory's "admin" logs in as Airflow's admin, and the login's role
    sync gives the admin the directory group's role instead of Admin."""
    admin = directory.airflow.admin_username
    directory.add_user(admin, [VIEWERS])
    assert directory.login(admin) == (401, None), "the directory's password logged in as the database admin"
    assert directory.roles(admin) == ["Admin"]


def test_the_admin_still_logs_in_with_airflows_own_database(directory):
    assert directory.airflow.token(), "the bootstrap admin (a database user) cannot log in"
