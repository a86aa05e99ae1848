# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Airflow 3 users with the FAB auth manager, through the REST API (what airflow_user runs).

Pure functions (unit-tested in tests/unit/test_airflow_api.py):

* :func:`user_view` - a user as the API returns it, reduced to what the module manages
  (roles as a sorted list: the API returns them in no stable order);
* :func:`desired_changes` - which managed fields differ from what the task asks for;
* :func:`create_body` and :func:`patch_request` - the POST body, and the PATCH body with its
  ``update_mask``;
* :func:`diff_views` - before/after for ``--diff``, never with a password;
* :func:`login_failed_message`, :func:`unknown_roles_message`, :func:`unreachable_message`,
  :func:`api_error_message` and :func:`scrub` - error messages that name the URL, the user
  and the cause, and never carry a password.

:class:`AirflowClient` talks to the api-server with ``ansible.module_utils.urls.open_url``
(a JWT from ``POST /auth/token``; users under ``/auth/fab/v1/users``; roles under
``/auth/fab/v1/roles``) and :func:`ensure_user` is the module's whole run.

Measured on Airflow 3.3.2 (apache-airflow-providers-fab 3.10.2): ``/auth/token`` answers 201
and refuses basic auth; POST of a user answers 200, a duplicate user name or e-mail 409, an
unknown role 400 (``Unknown roles: 'x'``); a POST without roles gives the user the default
registration role; PATCH takes ``update_mask`` (comma-separated); DELETE answers 204.
"""

from __future__ import annotations

import json
import traceback
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from ansible.module_utils.urls import open_url

USERS = "/auth/fab/v1/users"
ROLES = "/auth/fab/v1/roles"
TOKEN = "/auth/token"
MANAGED_FIELDS = ("first_name", "last_name", "email", "roles")
CREATE_REQUIRES = ("password", "first_name", "last_name", "email")
MASK = "********"


class AirflowError(Exception):
    """A failure the module reports as it is (the message names the URL and the cause)."""


# -- pure logic ---------------------------------------------------------------------------

def user_view(api_user):
    """What the module manages of a user the API returned (None stays None)."""
    if api_user is None:
        return None
    view = {"username": api_user.get("username")}
    for field in ("first_name", "last_name", "email"):
        view[field] = api_user.get(field)
    view["roles"] = sorted({role["name"] for role in api_user.get("roles") or []})
    if "active" in api_user:
        view["active"] = api_user["active"]
    return view


def desired_changes(params, current):
    """{field: new value} of the managed fields the task sets and the user lacks.

    A field the task leaves out (None) is not managed. ``roles`` is the exact set of roles
    the user must have: compared as sets, returned sorted.
    """
    changes = {}
    for field in ("first_name", "last_name", "email"):
        wanted = params.get(field)
        if wanted is not None and wanted != current.get(field):
            changes[field] = wanted
    roles = params.get("roles")
    if roles is not None and set(roles) != set(current.get("roles") or []):
        changes["roles"] = sorted(set(roles))
    return changes


def missing_for_create(params):
    """The options a new user needs that the task does not give (the API requires them)."""
    return [name for name in CREATE_REQUIRES if not params.get(name)]


def create_body(params):
    """The POST body of a new user."""
    body = {"username": params["username"], "password": params["password"]}
    for field in ("first_name", "last_name", "email"):
        body[field] = params[field]
    if params.get("roles"):
        body["roles"] = [{"name": name} for name in sorted(set(params["roles"]))]
    return body


def patch_request(changes, password=None):
    """(update_mask, body) of a PATCH that applies ``changes`` (and a new password)."""
    body = {}
    for field, value in changes.items():
        body[field] = [{"name": name} for name in value] if field == "roles" else value
    if password is not None:
        body["password"] = password
    return ",".join(sorted(body)), body


def created_view(params, created=None):
    """The user as it will be (check mode) or is (``created``, the API's answer) after a create."""
    if created is not None:
        return user_view(created)
    view = {"username": params["username"]}
    for field in ("first_name", "last_name", "email"):
        view[field] = params.get(field)
    view["roles"] = sorted(set(params.get("roles") or []))
    return view


def diff_views(before, after, password_changed=False):
    """``{"before": ..., "after": ...}`` for --diff; a password appears only as a mask."""
    before = dict(before) if before else {}
    after = dict(after) if after else {}
    if password_changed:
        before["password"] = MASK
        after["password"] = MASK + " (changed)"
    return {"before": before, "after": after}


# The options every module that talks to the api-server takes (airflow_user, airflow_users,
# airflow_roles): where it is and the admin who logs in.
CONNECTION_SPEC = dict(
    url=dict(type="str", required=True),
    admin_username=dict(type="str", required=True),
    admin_password=dict(type="str", required=True, no_log=True),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)


def run_module(module, what, work, secrets=()):
    """Log in as the module's admin, run ``work(client)`` and exit with its result and the requests
    sent. An API error fails with its message; a bug of ours with one line (the traceback only at
    -vvv). ``what`` names the module in that line; every one of ``secrets`` and the admin's
    password is masked in anything reported."""
    params = module.params
    client = AirflowClient(params["url"], params["admin_username"], params["admin_password"],
                           validate_certs=params["validate_certs"], timeout=params["timeout"])
    secrets = [params["admin_password"], *secrets]
    try:
        result = work(client)
    except AirflowError as exc:
        module.fail_json(msg=scrub(exc, secrets), requests=client.requests)
    except Exception as exc:  # a bug of ours
        module.fail_json(msg=scrub("%s: failed unexpectedly: %s: %s" % (what, type(exc).__name__, exc), secrets),
                         requests=client.requests, exception=scrub(traceback.format_exc(), secrets))
    result["requests"] = client.requests
    module.exit_json(**result)


def _remember_managed(client, state_variable, what, variable, managed_before, before_raw, listed, result,
                      check_mode):
    """Keep ``listed``, the names the list made, in the Airflow Variable ``state_variable`` when it
    says otherwise; then the result, changed when anything was."""
    if set(managed_before) != set(listed) or (before_raw is not None and parse_managed(before_raw) != listed):
        if not check_mode:
            set_variable(client, state_variable, managed_value(listed), before_raw is not None,
                         "Managed by edp.platform: the %s %s made (the airflow role removes those it no "
                         "longer lists)" % (what, variable))
        result["state_changed"] = True
    result["changed"] = bool(result["created"] or result["updated"] or result["removed"]
                             or result.get("state_changed"))
    return result


def scrub(text, secrets):
    """``text`` with every secret replaced by a mask."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def error_detail(body):
    """The cause an API error body gives, without echoing the request back.

    FastAPI validation errors (422) carry the request in ``input``, password included: only
    their ``loc`` and ``msg`` are kept.
    """
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    parts.append(("%s: %s" % (loc, item.get("msg"))) if loc else str(item.get("msg")))
            return "; ".join(parts)
        return str(detail)
    if body in (None, ""):
        return "no details"
    return str(body)[:300]


def login_failed_message(url, username, status, body=None):
    if status == 401:
        return "cannot log in to Airflow at %s as %s: wrong user name or password" % (url, username)
    return "cannot log in to Airflow at %s as %s: HTTP %s (%s)" % (url, username, status, error_detail(body))


def unknown_roles_message(url, username, unknown, existing):
    return "unknown role%s %s for user %s; the roles that exist in Airflow at %s: %s" % (
        "s" if len(unknown) > 1 else "", ", ".join(repr(r) for r in sorted(unknown)), username, url,
        ", ".join(sorted(existing)) or "(none)")


def unreachable_message(url, reason):
    reason = getattr(reason, "reason", reason)
    return "cannot reach Airflow at %s: %s" % (url, reason)


def api_error_message(url, action, status, body):
    hint = {403: " (the admin user lacks the right)"}.get(status, "")
    return "Airflow at %s refused to %s: HTTP %s%s: %s" % (url, action, status, hint, error_detail(body))


# -- the API ------------------------------------------------------------------------------

class AirflowClient:
    """The api-server at ``url``, as ``admin_username`` (a JWT requested on :meth:`login`)."""

    def __init__(self, url, admin_username, admin_password, validate_certs=True, timeout=30,
                 opener=open_url):
        self.url = url.rstrip("/")
        self.admin_username = admin_username
        self.admin_password = admin_password
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.opener = opener
        self.token = None
        self.requests = []  # (method, path) sent, for the module's result

    def request(self, method, path, body=None, token=None, query=None):
        """(status, decoded body) of a request; connection failures raise AirflowError."""
        url = self.url + path
        if query:
            url += "?" + "&".join("%s=%s" % (k, quote(str(v), safe=",")) for k, v in query.items())
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        self.requests.append("%s %s" % (method, path))
        try:
            resp = self.opener(url, data=data, headers=headers, method=method, timeout=self.timeout,
                               validate_certs=self.validate_certs, follow_redirects="none")
            status, raw = resp.getcode(), resp.read()
        except HTTPError as exc:
            status = exc.code
            try:
                raw = exc.read()
            except Exception:  # an HTTPError without a body
                raw = b""
        except (URLError, OSError, ValueError) as exc:
            raise AirflowError(unreachable_message(self.url, exc))
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw

    def get_token(self, username, password):
        """(status, JWT or None) of a login as this user."""
        status, body = self.request("POST", TOKEN, {"username": username, "password": password})
        if status in (200, 201) and isinstance(body, dict) and body.get("access_token"):
            return status, body["access_token"]
        return status, body

    def login(self):
        status, token = self.get_token(self.admin_username, self.admin_password)
        if status not in (200, 201):
            raise AirflowError(login_failed_message(self.url, self.admin_username, status, token))
        self.token = token

    def can_log_in(self, username, password):
        """Whether the API gives this user a token with this password."""
        status, _ = self.get_token(username, password)
        return status in (200, 201)

    def _call(self, method, path, action, ok, body=None, query=None, absent_ok=False):
        status, answer = self.request(method, path, body, token=self.token, query=query)
        if absent_ok and status == 404:
            return None
        if status not in ok:
            raise AirflowError(api_error_message(self.url, action, status, answer))
        return answer

    def _user_path(self, username):
        return "%s/%s" % (USERS, quote(username, safe=""))

    def get_user(self, username):
        return self._call("GET", self._user_path(username), "read user %s" % username, (200,), absent_ok=True)

    def create_user(self, body):
        return self._call("POST", USERS, "create user %s" % body["username"], (200, 201), body=body)

    def patch_user(self, username, mask, body):
        return self._call("PATCH", self._user_path(username), "update user %s" % username, (200,),
                          body=body, query={"update_mask": mask})

    def delete_user(self, username):
        self._call("DELETE", self._user_path(username), "delete user %s" % username, (200, 204), absent_ok=True)

    def role_names(self):
        names, offset = [], 0
        while True:
            answer = self._call("GET", ROLES, "list roles", (200,), query={"limit": 100, "offset": offset})
            page = [role["name"] for role in answer.get("roles", [])]
            names += page
            offset += len(page)
            if not page or offset >= answer.get("total_entries", 0):
                return names


def check_roles(client, username, roles):
    """Fail naming the roles that do not exist, and those that do."""
    existing = client.role_names()
    unknown = set(roles) - set(existing)
    if unknown:
        raise AirflowError(unknown_roles_message(client.url, username, unknown, existing))


def ensure_user(client, params, check_mode=False):
    """Make user ``params["username"]`` present or absent; the module's result (no password)."""
    username = params["username"]
    client.login()
    current = user_view(client.get_user(username))
    result = {"changed": False, "username": username, "state": params["state"], "changes": []}

    if params["state"] == "absent":
        if current is not None:
            if not check_mode:
                client.delete_user(username)
            result.update(changed=True, changes=["deleted"], diff=diff_views(current, None))
        result["user"] = None
        return result

    changes, after, password_changed = make_present(client, params, current, check_mode)
    if current is None:
        result.update(changed=True, changes=changes, user=after, diff=diff_views(None, after))
        return result
    if changes:
        result.update(changed=True, changes=changes, diff=diff_views(current, after, password_changed=password_changed))
    result["user"] = after
    return result


def make_present(client, params, current, check_mode):
    """Create user ``params["username"]`` (``current`` is None) or bring it to ``params``.

    Returns (changes, after, password_changed): ``["created"]`` or the fields changed (and
    ``"password"``), empty when nothing was to do; the user as it is now (as it would be, in
    check mode); whether the password was changed.
    """
    username = params["username"]
    if current is None:
        missing = missing_for_create(params)
        if missing:
            raise AirflowError("user %s does not exist in Airflow at %s; to create it, set %s"
                               % (username, client.url, ", ".join(missing)))
        if params.get("roles"):
            check_roles(client, username, params["roles"])
        created = None
        if not check_mode:
            created = client.create_user(create_body(params))
            # Without roles (or with an empty list) Airflow gives the default registration role.
            extra = desired_changes(params, user_view(created))
            if "roles" in extra:
                mask, body = patch_request({"roles": extra["roles"]})
                created = client.patch_user(username, mask, body)
        return ["created"], created_view(params, created), False

    changes = desired_changes(params, current)
    if changes.get("roles"):
        check_roles(client, username, changes["roles"])
    new_password = None
    if params.get("password") and params.get("update_password") == "always":
        if not client.can_log_in(username, params["password"]):
            new_password = params["password"]
    after = dict(current, **changes)
    if (changes or new_password is not None) and not check_mode:
        mask, body = patch_request(changes, new_password)
        after = user_view(client.patch_user(username, mask, body))
    return sorted(changes) + (["password"] if new_password is not None else []), after, new_password is not None


# -- users as data (airflow_users) ------------------------------------------------------------

VARIABLES = "/api/v2/variables"


def users_to_remove(managed_before, listed, keep):
    """The users to delete: those this list managed before and no longer names, never ``keep``.

    Only users the list made are ever removed: the admin, users made by hand and users a
    directory or provider registered at their login (LDAP, OpenID Connect) are not in
    ``managed_before``.
    """
    return sorted(set(managed_before) - set(listed) - set(keep))


def user_params(user, generated_password):
    """airflow_user's parameters for one entry of the list.

    A user with a password is Airflow's own: its roles are kept exactly and its password is what
    the vault says (changed when it no longer logs in). A user without one logs in through LDAP or
    OpenID Connect: created with a password no one knows (``generated_password``, never kept) and
    the listed roles, which their groups or claim replace at each login - so its roles are set
    only when it is created.
    """
    own = bool(user.get("password"))
    return {
        "username": user["username"], "state": "present",
        "first_name": user.get("first_name"), "last_name": user.get("last_name"), "email": user.get("email"),
        "roles": user.get("roles"), "password": user["password"] if own else generated_password,
        "update_password": "always" if own else "on_create", "roles_on_create_only": not own,
    }


def managed_value(names):
    """What the state variable holds: the sorted user names, as JSON."""
    return json.dumps(sorted(set(names)))


def parse_managed(value):
    if not value:
        return []
    try:
        names = json.loads(value)
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def get_variable(client, key):
    answer = client._call("GET", "%s/%s" % (VARIABLES, quote(key, safe="")), "read variable %s" % key, (200,),
                          absent_ok=True)
    return None if answer is None else answer.get("value")


def set_variable(client, key, value, exists, description):
    if exists:
        client._call("PATCH", "%s/%s" % (VARIABLES, quote(key, safe="")), "update variable %s" % key, (200,),
                     body={"key": key, "value": value, "description": description})
    else:
        client._call("POST", VARIABLES, "create variable %s" % key, (200, 201),
                     body={"key": key, "value": value, "description": description})


def ensure_users(client, users, keep, state_variable, generated_password, check_mode=False):
    """Make the listed users present and remove those the list made before and dropped."""
    client.login()
    before_raw = get_variable(client, state_variable)
    managed_before = parse_managed(before_raw)
    result = {"changed": False, "created": [], "updated": {}, "removed": [], "unchanged": []}
    for user in users:
        params = user_params(user, generated_password)
        current = user_view(client.get_user(params["username"]))
        if params.pop("roles_on_create_only") and current is not None:
            params["roles"] = None
        one, _, _ = make_present(client, params, current, check_mode)
        if "created" in one:
            result["created"].append(params["username"])
        elif one:
            result["updated"][params["username"]] = one
        else:
            result["unchanged"].append(params["username"])
    for username in users_to_remove(managed_before, [u["username"] for u in users], keep):
        if client.get_user(username) is not None:
            if not check_mode:
                client.delete_user(username)
            result["removed"].append(username)
    listed = sorted({u["username"] for u in users} - set(keep))
    return _remember_managed(client, state_variable, "users", "airflow_users", managed_before, before_raw,
                             listed, result, check_mode)


# -- roles as data (airflow_roles) ------------------------------------------------------------

def role_permissions(api_role):
    """A role's permissions as the API returns it: a sorted list of (action, resource)."""
    return sorted({(p["action"]["name"], p["resource"]["name"]) for p in (api_role or {}).get("actions") or []})


def wanted_permissions(role):
    """The permissions a role of the list asks for: a sorted list of (action, resource)."""
    return sorted({(p["action"], p["resource"]) for p in role.get("permissions") or []})


def role_body(name, permissions):
    return {"name": name, "actions": [{"action": {"name": a}, "resource": {"name": r}} for a, r in permissions]}


def ensure_roles(client, roles, builtin, state_variable, check_mode=False):
    """Make the listed roles exist with exactly their permissions; remove those the list made
    before and no longer names (never Airflow's own)."""
    client.login()
    before_raw = get_variable(client, state_variable)
    managed_before = parse_managed(before_raw)
    result = {"changed": False, "created": [], "updated": [], "removed": [], "unchanged": []}
    for role in roles:
        name = role["name"]
        path = "%s/%s" % (ROLES, quote(name, safe=""))
        current = client._call("GET", path, "read role %s" % name, (200,), absent_ok=True)
        wanted = wanted_permissions(role)
        if current is None:
            if not check_mode:
                client._call("POST", ROLES, "create role %s" % name, (200, 201), body=role_body(name, wanted))
            result["created"].append(name)
        elif role_permissions(current) != wanted:
            if not check_mode:
                client._call("PATCH", path, "update role %s" % name, (200,), body=role_body(name, wanted),
                             query={"update_mask": "actions"})
            result["updated"].append(name)
        else:
            result["unchanged"].append(name)
    listed = sorted({r["name"] for r in roles})
    for name in users_to_remove(managed_before, listed, builtin):
        path = "%s/%s" % (ROLES, quote(name, safe=""))
        if client._call("GET", path, "read role %s" % name, (200,), absent_ok=True) is not None:
            if not check_mode:
                client._call("DELETE", path, "delete role %s" % name, (200, 204), absent_ok=True)
            result["removed"].append(name)
    return _remember_managed(client, state_variable, "roles", "airflow_roles", managed_before, before_raw,
                             listed, result, check_mode)
