"""Airflow users from OpenID Connect (airflow_auth: oidc) against a real provider and a real Airflow 3.3.2.

The provider is oidc-provider-mock (PyPI, requirements-test.txt), run in this process on a free
port, with users whose ``groups`` claim says their role. The Airflow api-server
(tests/lib/airflow_server.py) reads the airflow role's own ``webserver_config.py.j2``, rendered by
Ansible with the role's defaults and vars (tests/lib/role_template.py), the client secret in its
environment as the role gives it. The browser's part of the authorization-code flow is followed
with an HTTP client that keeps cookies: Airflow's login sends it to the provider, the provider's
form (the user picked) sends it back with a code, Airflow exchanges the code and sets its token
cookie.
"""

from __future__ import annotations

import secrets
import urllib.parse

import pytest
import requests

from lib.airflow_server import AirflowServer, free_port
from lib.pgserver import PgServer
from lib.role_template import render_role_template

oidc_provider_mock = pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock (requirements-test.txt)")

USERS = {
    # sub: (preferred_username, groups claim)
    "ops-sub": ("olivia", ["airflow-ops"]),
    "viewer-sub": ("victor", ["airflow-viewers", "unrelated"]),
    "stranger-sub": ("stan", ["unrelated"]),
    # The provider's account named like Airflow's bootstrap admin (a database user).
    "impostor-sub": ("admin", ["airflow-viewers"]),
}


@pytest.fixture(scope="module")
def oidc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oidc")
    client_secret = "client-" + secrets.token_urlsafe(18)
    users = [oidc_provider_mock.User(sub=sub, claims={
        "preferred_username": name, "email": "%s@example.com" % name, "given_name": name.title(),
        "family_name": "Tester", "groups": groups}) for sub, (name, groups) in USERS.items()]
    with oidc_provider_mock.run_server_in_thread(port=free_port(), user_claims=users) as provider:
        issuer = "http://localhost:%d" % provider.server_port
        config = folder / "webserver_config.py"
        text = render_role_template(
            folder / "render", "airflow", "webserver_config.py.j2", config, edp_local_root=str(folder / "root"),
            airflow_auth="oidc", airflow_oidc_issuer=issuer, airflow_oidc_client_id="airflow",
            airflow_oidc_client_secret=client_secret,
            airflow_oidc_roles={"airflow-ops": ["Op"], "airflow-viewers": ["Viewer"]})
        assert client_secret not in text, "the client secret is in webserver_config.py"
        with PgServer() as pg, AirflowServer(pg, webserver_config=config, extra_env={
                "EDP_AIRFLOW_OIDC_CLIENT_SECRET": client_secret}) as airflow:
            yield airflow, issuer


def browser_login(airflow, sub):
    """Follow the authorization-code flow as a browser would; (the final response, the session)."""
    session = requests.Session()
    start = session.get(airflow.url + "/auth/login/oidc", params={"next": airflow.url + "/"},
                        allow_redirects=False, timeout=30)
    assert start.status_code in (302, 303), "Airflow's login did not send the browser to the provider: %s %s" % (
        start.status_code, start.text[:500])
    authorize = start.headers["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["redirect_uri"][0].startswith(airflow.url + "/auth/oauth-authorized/oidc"), query["redirect_uri"]
    # The provider's form: the user picks who they are.
    picked = session.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=30)
    assert picked.status_code in (302, 303), "the provider did not send the browser back: %s %s" % (
        picked.status_code, picked.text[:500])
    callback = picked.headers["Location"]
    assert "code=" in callback, callback
    done = session.get(callback, allow_redirects=False, timeout=60)
    return done, session


@pytest.mark.parametrize("sub,role", [("ops-sub", "Op"), ("viewer-sub", "Viewer")])
def test_the_browser_flow_ends_logged_in_with_the_mapped_role(oidc, sub, role):
    airflow, _ = oidc
    done, session = browser_login(airflow, sub)
    assert done.status_code in (302, 303), (done.status_code, done.text[:500])
    token = session.cookies.get("_token")
    assert token, "no Airflow token cookie after the provider's callback (went to %s)" % done.headers.get("Location")
    status, _ = airflow.request("GET", "/api/v2/dags", token=token)
    assert status == 200, "the token from the browser flow does not read DAGs: HTTP %s" % status
    name = USERS[sub][0]
    user = airflow.get_user(name)
    assert user is not None, "%s was not registered at the login" % name
    assert sorted(r["name"] for r in user["roles"]) == [role]
    status, _ = airflow.request("POST", "/api/v2/dags/no_such_dag/dagRuns", {"logical_date": None}, token=token)
    assert status == (403 if role == "Viewer" else 404), "HTTP %s for a DAG trigger by a %s" % (status, role)


def test_an_account_named_like_a_database_user_is_refused_and_changes_nothing(oidc):
    """Without the guard, the provider's "admin" logs in as Airflow's admin, and the login's role
    sync gives the admin Viewer instead of Admin."""
    airflow, _ = oidc
    done, session = browser_login(airflow, "impostor-sub")
    assert not session.cookies.get("_token"), "the provider's admin got an Airflow token"
    assert sorted(r["name"] for r in airflow.get_user(airflow.admin_username)["roles"]) == ["Admin"]


def test_a_user_whose_claim_maps_to_no_role_is_refused(oidc):
    airflow, _ = oidc
    done, session = browser_login(airflow, "stranger-sub")
    assert not session.cookies.get("_token"), "a user with no mapped group got an Airflow token"
    assert "/auth/login" in done.headers.get("Location", ""), (done.status_code, done.headers.get("Location"))
    user = airflow.get_user(USERS["stranger-sub"][0])
    assert user is None or user["roles"] == [], "the refused user was given a role"
