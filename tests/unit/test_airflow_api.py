"""The pure parts of airflow_user (module_utils/airflow_api.py), its client against a fake
api-server, and the module's documentation."""

import io
import json
from urllib.error import HTTPError, URLError

import pytest
import yaml

from ansible_collections.edp.platform.plugins.module_utils import airflow_api as aa
from ansible_collections.edp.platform.plugins.modules import airflow_user

URL = "http://airflow.example:8080"

API_USER = {
    "username": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
    "roles": [{"name": "Viewer"}, {"name": "Op"}], "active": True, "last_login": None,
    "login_count": 0, "fail_login_count": 0,
}


def params(**overrides):
    base = {"url": URL, "admin_username": "admin", "admin_password": "adm-secret", "username": "jdoe",
            "state": "present", "password": "user-secret", "update_password": "on_create",
            "first_name": None, "last_name": None, "email": None, "roles": None}
    base.update(overrides)
    return base


# -- comparing what the task asks for with the user ---------------------------------------

def test_user_view_keeps_managed_fields_and_sorts_roles():
    view = aa.user_view(API_USER)
    assert view == {"username": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
                    "roles": ["Op", "Viewer"], "active": True}


def test_roles_in_another_order_are_no_change():
    current = aa.user_view(API_USER)
    assert aa.desired_changes(params(roles=["Viewer", "Op"]), current) == {}
    assert aa.desired_changes(params(roles=["Op", "Viewer", "Op"]), current) == {}


def test_roles_are_the_exact_set_a_missing_and_an_extra_role_are_both_changes():
    current = aa.user_view(API_USER)
    assert aa.desired_changes(params(roles=["Viewer"]), current) == {"roles": ["Viewer"]}
    assert aa.desired_changes(params(roles=["User", "Op", "Viewer"]), current) == {"roles": ["Op", "User", "Viewer"]}
    assert aa.desired_changes(params(roles=[]), current) == {"roles": []}


def test_options_left_out_are_not_managed():
    assert aa.desired_changes(params(), aa.user_view(API_USER)) == {}


def test_changed_names_and_email_are_changes():
    changes = aa.desired_changes(params(first_name="Janet", last_name="Doe", email="janet@example.com"),
                                 aa.user_view(API_USER))
    assert changes == {"first_name": "Janet", "email": "janet@example.com"}


def test_a_new_user_needs_password_names_and_email():
    assert aa.missing_for_create(params(password=None)) == ["password", "first_name", "last_name", "email"]
    assert aa.missing_for_create(params(first_name="J", last_name="D", email="j@x")) == []


def test_create_body_names_roles_once_each():
    body = aa.create_body(params(first_name="J", last_name="D", email="j@x", roles=["Viewer", "Op", "Viewer"]))
    assert body == {"username": "jdoe", "password": "user-secret", "first_name": "J", "last_name": "D",
                    "email": "j@x", "roles": [{"name": "Op"}, {"name": "Viewer"}]}


# -- the PATCH and its update_mask --------------------------------------------------------

def test_patch_of_roles_masks_only_roles():
    mask, body = aa.patch_request({"roles": ["Op", "User"]})
    assert mask == "roles"
    assert body == {"roles": [{"name": "Op"}, {"name": "User"}]}


def test_patch_to_no_roles_sends_an_empty_list():
    assert aa.patch_request({"roles": []}) == ("roles", {"roles": []})


def test_patch_mask_names_every_field_sent_password_included():
    mask, body = aa.patch_request({"email": "j@x", "first_name": "J"}, password="new-secret")
    assert mask == "email,first_name,password"
    assert body == {"email": "j@x", "first_name": "J", "password": "new-secret"}


# -- diff and messages --------------------------------------------------------------------

def test_diff_never_holds_a_password():
    before = aa.user_view(API_USER)
    diff = aa.diff_views(before, dict(before, roles=["Op"]), password_changed=True)
    assert "user-secret" not in json.dumps(diff)
    assert diff["before"]["roles"] == ["Op", "Viewer"] and diff["after"]["roles"] == ["Op"]
    assert diff["before"]["password"] != diff["after"]["password"]


def test_diff_of_a_create_and_a_delete():
    assert aa.diff_views(None, {"username": "x"}) == {"before": {}, "after": {"username": "x"}}
    assert aa.diff_views({"username": "x"}, None) == {"before": {"username": "x"}, "after": {}}


def test_wrong_admin_password_message_names_url_and_user():
    assert aa.login_failed_message(URL, "admin", 401, {"detail": "Invalid credentials"}) == (
        "cannot log in to Airflow at %s as admin: wrong user name or password" % URL)


def test_unknown_roles_message_names_them_and_the_roles_that_exist():
    msg = aa.unknown_roles_message(URL, "jdoe", {"Nope"}, ["Viewer", "Admin", "Op"])
    assert msg == ("unknown role 'Nope' for user jdoe; the roles that exist in Airflow at %s: Admin, Op, Viewer"
                   % URL)


def test_unreachable_message_names_url_and_reason():
    msg = aa.unreachable_message(URL, URLError(ConnectionRefusedError(111, "Connection refused")))
    assert msg.startswith("cannot reach Airflow at %s: " % URL) and "Connection refused" in msg


def test_validation_errors_never_echo_the_request_and_its_password():
    body = {"detail": [{"type": "missing", "loc": ["body", "email"], "msg": "Field required",
                        "input": {"username": "x", "password": "user-secret"}}]}
    detail = aa.error_detail(body)
    assert detail == "email: Field required"
    assert "user-secret" not in aa.api_error_message(URL, "create user x", 422, body)


def test_scrub_masks_every_secret():
    assert aa.scrub("a adm-secret b user-secret", ("adm-secret", "user-secret", None)) == "a ******** b ********"


# -- the client and ensure_user against a fake api-server ---------------------------------

class FakeAirflow:
    """Answers like Airflow 3.3.2's FAB API; records the requests (method, path, query, body)."""

    def __init__(self, users=None, roles=("Admin", "Op", "Public", "User", "Viewer"), passwords=None):
        self.users = {u["username"]: dict(u) for u in (users or [])}
        self.roles = list(roles)
        self.passwords = dict(passwords or {"admin": "adm-secret"})
        self.log = []

    def __call__(self, url, data=None, headers=None, method=None, **_):
        path, _, query = url[len(URL):].partition("?")
        body = json.loads(data) if data else None
        self.log.append((method, path, query, body))
        status, answer = self.answer(method, path, query, body)
        if status >= 400:
            raise HTTPError(url, status, "error", {}, io.BytesIO(json.dumps(answer).encode()))
        resp = io.BytesIO(json.dumps(answer).encode() if answer is not None else b"")
        resp.getcode = lambda: status
        return resp

    def answer(self, method, path, query, body):
        if path == "/auth/token":
            if self.passwords.get(body["username"]) == body["password"]:
                return 201, {"access_token": "jwt-" + body["username"]}
            return 401, {"detail": "Invalid credentials"}
        if path == "/auth/fab/v1/roles":
            return 200, {"roles": [{"name": r, "actions": []} for r in self.roles], "total_entries": len(self.roles)}
        name = path.rpartition("/")[2]
        if method == "GET":
            return (200, self.users[name]) if name in self.users else (404, {"detail": "not found"})
        if method == "POST":
            user = {k: v for k, v in body.items() if k != "password"}
            user.setdefault("roles", [{"name": "Public"}])
            self.users[body["username"]] = user
            self.passwords[body["username"]] = body["password"]
            return 200, user
        if method == "PATCH":
            for field in query.partition("=")[2].split(","):
                if field == "password":
                    self.passwords[name] = body["password"]
                else:
                    self.users[name][field] = body[field]
            return 200, self.users[name]
        if method == "DELETE":
            del self.users[name]
            return 204, None
        raise AssertionError((method, path))

    def writes(self):
        return [entry for entry in self.log if entry[0] != "GET" and entry[1] != "/auth/token"]


def run(fake, check_mode=False, **overrides):
    p = params(**overrides)
    client = aa.AirflowClient(p["url"], p["admin_username"], p["admin_password"], opener=fake)
    return aa.ensure_user(client, p, check_mode=check_mode)


NEW = dict(first_name="Jane", last_name="Doe", email="jane@example.com", roles=["Viewer", "Op"])


def test_create_then_rerun_changes_nothing_and_writes_nothing():
    fake = FakeAirflow()
    assert run(fake, **NEW)["changed"] is True
    fake.log.clear()
    result = run(fake, **NEW)
    assert result["changed"] is False and result["changes"] == []
    assert fake.writes() == []


def test_create_with_an_empty_role_list_takes_the_default_role_away():
    fake = FakeAirflow()
    run(fake, **dict(NEW, roles=[]))
    assert fake.users["jdoe"]["roles"] == []
    assert run(fake, **dict(NEW, roles=[]))["changed"] is False


def test_check_mode_reports_the_change_and_writes_nothing():
    fake = FakeAirflow(users=[API_USER])
    result = run(fake, check_mode=True, roles=["User"])
    assert result["changed"] is True and result["changes"] == ["roles"]
    assert result["user"]["roles"] == ["User"]
    assert fake.writes() == []


def test_update_password_always_patches_only_when_the_login_fails():
    fake = FakeAirflow(users=[API_USER], passwords={"admin": "adm-secret", "jdoe": "user-secret"})
    assert run(fake, update_password="always")["changed"] is False
    assert fake.writes() == []
    result = run(fake, update_password="always", password="new-secret")
    assert result["changes"] == ["password"]
    assert fake.passwords["jdoe"] == "new-secret"
    assert ("PATCH", "/auth/fab/v1/users/jdoe", "update_mask=password", {"password": "new-secret"}) in fake.log


def test_unknown_role_fails_before_any_write():
    fake = FakeAirflow(users=[API_USER])
    with pytest.raises(aa.AirflowError, match="unknown role 'Nope' for user jdoe.*Admin, Op, Public, User, Viewer"):
        run(fake, roles=["Nope", "Op"])
    assert fake.writes() == []


def test_wrong_admin_password_fails_with_the_clear_message():
    with pytest.raises(aa.AirflowError, match="^cannot log in to Airflow at .* as admin: wrong user name or password$"):
        run(FakeAirflow(), admin_password="wrong")


def test_absent_deletes_once():
    fake = FakeAirflow(users=[API_USER])
    assert run(fake, state="absent")["changed"] is True
    assert run(fake, state="absent")["changed"] is False


def test_creating_without_the_required_options_names_them():
    with pytest.raises(aa.AirflowError, match="to create it, set first_name, last_name, email"):
        run(FakeAirflow())


def test_user_names_are_quoted_in_paths():
    fake = FakeAirflow()
    run(fake, state="absent", username="a b/c")
    assert ("GET", "/auth/fab/v1/users/a%20b%2Fc", "", None) in fake.log


# -- the module's documentation -----------------------------------------------------------

def test_module_documents_its_secrets_and_results():
    # (documented options against the spec: tests/static, for every module)
    spec = airflow_user.ARGUMENT_SPEC
    returned = yaml.safe_load(airflow_user.RETURN)
    assert spec["admin_password"]["no_log"] is True and spec["password"]["no_log"] is True
    assert {"username", "state", "changes", "user", "requests"} == set(returned)


# -- users and roles as data (airflow_users, airflow_roles) -------------------------------------

def test_only_users_the_list_made_and_dropped_are_removed_never_the_kept():
    assert aa.users_to_remove(["ann", "ben", "admin"], ["ann"], ["admin"]) == ["ben"]
    assert aa.users_to_remove([], ["ann"], ["admin"]) == [], "a user the list never made is not its to remove"


def test_a_user_with_a_password_is_airflows_own_one_without_is_a_directory_users():
    own = aa.user_params({"username": "a", "email": "a@x.io", "first_name": "A", "last_name": "B",
                          "roles": ["Op"], "password": "vaulted"}, "generated")
    assert own["password"] == "vaulted" and own["update_password"] == "always" and not own["roles_on_create_only"]
    directory = aa.user_params({"username": "d", "email": "d@x.io", "first_name": "D", "last_name": "E",
                                "roles": ["Viewer"]}, "generated")
    assert directory["password"] == "generated" and directory["update_password"] == "on_create"
    assert directory["roles_on_create_only"]


def test_the_managed_list_reads_back_what_it_wrote_and_ignores_anything_else():
    assert aa.parse_managed(aa.managed_value(["b", "a", "a"])) == ["a", "b"]
    assert aa.parse_managed(None) == [] and aa.parse_managed("not json") == [] and aa.parse_managed('{"a": 1}') == []


def test_role_permissions_compare_as_sets_of_action_and_resource():
    api = {"name": "Auditor", "actions": [{"action": {"name": "can_read"}, "resource": {"name": "DAGs"}},
                                          {"action": {"name": "can_read"}, "resource": {"name": "DAG Runs"}}]}
    wanted = {"name": "Auditor", "permissions": [{"action": "can_read", "resource": "DAG Runs"},
                                                 {"action": "can_read", "resource": "DAGs"}]}
    assert aa.role_permissions(api) == aa.wanted_permissions(wanted)
    assert aa.role_body("Auditor", aa.wanted_permissions(wanted))["actions"][0] == {
        "action": {"name": "can_read"}, "resource": {"name": "DAG Runs"}}


def test_the_list_modules_never_log_a_password():
    from ansible_collections.edp.platform.plugins.modules import airflow_roles, airflow_users

    assert airflow_users.ARGUMENT_SPEC["admin_password"]["no_log"] is True
    assert airflow_users.ARGUMENT_SPEC["users"]["options"]["password"]["no_log"] is True
    assert airflow_roles.ARGUMENT_SPEC["admin_password"]["no_log"] is True
