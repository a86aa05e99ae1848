#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Users of Airflow 3 with the FAB auth manager (the logic lives in module_utils/airflow_api.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: airflow_user
short_description: Users and their roles in Apache Airflow 3 with the FAB auth manager, through the REST API
version_added: 0.1.0
description:
  - Makes a user of Airflow 3 present, with the given name, e-mail and exactly the given
    roles, or absent, through the api-server's REST API. Airflow must run the FAB auth
    manager (C(AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager)).
  - The module logs in as O(admin_username) (a JWT from C(POST /auth/token)) and manages the
    user under C(/auth/fab/v1/users); it checks the roles against C(/auth/fab/v1/roles)
    before it writes.
  - Only what the task sets is managed - an option left out is left as it is.
  - A rerun with nothing to change sends no write and reports no change.
  - Passwords are never returned, logged or shown in a diff.
author:
  - edp.platform contributors
options:
  url:
    description:
      - The base URL of Airflow's api-server (its C(AIRFLOW__API__BASE_URL)), such as
        V(https://airflow.example.com) or V(http://127.0.0.1:8080).
    type: str
    required: true
  admin_username:
    description:
      - The user the module logs in as; it needs the rights to read, create, edit and
        delete users and to read roles (the C(Admin) role has them).
    type: str
    required: true
  admin_password:
    description:
      - The password of O(admin_username). Never logged.
    type: str
    required: true
  username:
    description:
      - The user to manage.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - V(present) creates or updates the user; V(absent) deletes it (its tokens are refused within
        the api-server's user cache time, see the notes).
    type: str
    choices: [present, absent]
    default: present
  password:
    description:
      - The user's password. Required to create a user; see O(update_password) for an
        existing one. Never logged.
    type: str
  update_password:
    description:
      - V(on_create) sets the password only when the module creates the user.
      - V(always) also makes an existing user's password O(password). Airflow cannot show a
        password, so the module requests a token as the user with O(password) and changes the
        password only when that login fails; a rerun with the same password is no change.
        Tokens issued with the old password keep working until they expire (see the notes).
    type: str
    choices: [always, on_create]
    default: on_create
  first_name:
    description:
      - The user's first name. Required to create a user.
    type: str
  last_name:
    description:
      - The user's last name. Required to create a user.
    type: str
  email:
    description:
      - The user's e-mail address. Required to create a user; Airflow refuses one that
        another user has.
    type: str
  roles:
    description:
      - The roles the user must have - exactly these, in any order; roles the user has and
        the list lacks are taken away. Every role must exist in Airflow (the error lists
        those that do).
      - Left out, an existing user's roles are not managed, and a new user gets Airflow's
        default registration role (C(AUTH_USER_REGISTRATION_ROLE), C(Public) unless
        configured). An empty list leaves the user with no role.
    type: list
    elements: str
  validate_certs:
    description:
      - Verify the api-server's TLS certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each answer of the api-server.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Reads the user and the roles and reports what would change; sends no write.
  diff_mode:
    support: full
    description: The user before and after (names, e-mail, roles); a password change shows as a mask.
requirements:
  - Apache Airflow 3 with apache-airflow-providers-fab (the FAB auth manager) and its api-server
notes:
  - The module runs where the task runs; with the api-server reachable only from the
    controller, delegate the task to C(localhost).
  - With O(update_password=always), the login that checks the password updates the user's
    login statistics in Airflow (last login and login count, or failed login count) - in
    check mode too.
  - "Tokens issued before a change (Airflow 3.3 with apache-airflow-providers-fab 3.10): a token
    names its user by id only, and Airflow looks that user up on every request, so a removed
    (V(absent)) or deactivated user's tokens stop working once the api-server's user cache
    (C([fab] cache_ttl), 30 s) has dropped the user - within 30 s of the removal."
  - "B(Changing a password does not end the user's tokens or UI sessions): they keep working until
    they expire (C([api_auth] jwt_expiration_time); the airflow role's C(airflow_jwt_expiration),
    an hour). Airflow keeps no list of the tokens it issued and revokes one only when its holder
    logs out with it, so no API can end another user's tokens. To end them at once, remove the
    user and create it again (it gets a new id), or change the JWT secret (every user's tokens)."
  - The user name cannot be changed by this module; a new O(username) is a new user.
seealso:
  - name: Airflow FAB auth manager API
    description: The REST API of the FAB auth manager the module uses.
    link: https://airflow.apache.org/docs/apache-airflow-providers-fab/stable/api-ref/fab-token-api-ref.html
"""

EXAMPLES = r"""
- name: An operator for the finance tenant
  edp.platform.airflow_user:
    url: https://airflow.finance-prod.example.com
    admin_username: admin
    admin_password: "{{ vault_airflow_admin_password }}"
    username: jdoe
    password: "{{ vault_airflow_jdoe_password }}"
    first_name: Jane
    last_name: Doe
    email: jane.doe@example.com
    roles: [Op, Viewer]
  delegate_to: localhost

- name: Keep a service account's password what the vault says
  edp.platform.airflow_user:
    url: http://127.0.0.1:8080
    admin_username: admin
    admin_password: "{{ vault_airflow_admin_password }}"
    username: ci-bot
    password: "{{ vault_airflow_ci_bot_password }}"
    update_password: always
    first_name: CI
    last_name: Bot
    email: ci-bot@example.com
    roles: [User]

- name: Remove a user who left
  edp.platform.airflow_user:
    url: https://airflow.finance-prod.example.com
    admin_username: admin
    admin_password: "{{ vault_airflow_admin_password }}"
    username: former.colleague
    state: absent
"""

RETURN = r"""
username:
  description: The user managed.
  returned: always
  type: str
  sample: jdoe
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
changes:
  description:
    - What changed (or would change in check mode) - V(created), V(deleted), or the fields
      updated (V(first_name), V(last_name), V(email), V(roles), V(password)).
  returned: always
  type: list
  elements: str
  sample: [roles]
user:
  description:
    - The user after the task (in check mode, as it would be), without a password; null when absent.
  returned: always
  type: dict
  sample:
    username: jdoe
    first_name: Jane
    last_name: Doe
    email: jane.doe@example.com
    roles: [Op, Viewer]
    active: true
requests:
  description: The requests sent to the api-server (method and path), in order.
  returned: always
  type: list
  elements: str
  sample: ["POST /auth/token", "GET /auth/fab/v1/users/jdoe"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edp.platform.plugins.module_utils import airflow_api

ARGUMENT_SPEC = dict(
    airflow_api.CONNECTION_SPEC,
    username=dict(type="str", required=True, aliases=["name"]),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    password=dict(type="str", no_log=True),
    update_password=dict(type="str", choices=["always", "on_create"], default="on_create", no_log=False),
    first_name=dict(type="str"),
    last_name=dict(type="str"),
    email=dict(type="str"),
    roles=dict(type="list", elements="str"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params

    def work(client):
        result = airflow_api.ensure_user(client, params, check_mode=module.check_mode)
        if not module._diff:
            result.pop("diff", None)
        return result

    airflow_api.run_module(module, "airflow_user %s" % params["username"], work, secrets=[params["password"]])


if __name__ == "__main__":
    main()
