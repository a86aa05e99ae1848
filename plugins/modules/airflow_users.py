#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Airflow's users kept as a list (the logic lives in module_utils/airflow_api.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: airflow_users
short_description: Keep Apache Airflow 3's users as a list (FAB auth manager), removing those dropped from it
version_added: 0.2.0
description:
  - Makes every user of O(users) present in Airflow 3 with the FAB auth manager, through the
    api-server's REST API, as M(edp.platform.airflow_user) does for one, in one login.
  - Removes the users this list made before and no longer names - only those - so the admin, users
    made by hand and users an LDAP directory or OpenID Connect provider registered at their login
    are never removed. Which users the list made is kept in the Airflow Variable O(state_variable).
  - A user with a C(password) is Airflow's own - its roles are exactly C(roles), its password what the
    vault says (changed when it no longer logs in). A user without one logs in through LDAP or OpenID
    Connect - made with a random password no one keeps and C(roles), which their groups or claim then
    replace at each login.
  - A rerun with nothing to change sends no write and reports no change.
author:
  - edp.platform contributors
options:
  url:
    description: The base URL of Airflow's api-server.
    type: str
    required: true
  admin_username:
    description: The user the module logs in as (the C(Admin) role has the rights it needs).
    type: str
    required: true
  admin_password:
    description: The password of O(admin_username). Never logged.
    type: str
    required: true
  users:
    description: The users.
    type: list
    elements: dict
    required: true
    suboptions:
      username:
        description: The user name.
        type: str
        required: true
      email:
        description: The e-mail address.
        type: str
        required: true
      first_name:
        description: The first name.
        type: str
        required: true
      last_name:
        description: The last name.
        type: str
        required: true
      roles:
        description: The roles (each must exist).
        type: list
        elements: str
        required: true
      password:
        description: The password, from the vault; left out for a user of a directory or provider. Never logged.
        type: str
  keep:
    description: Users never removed (the admin).
    type: list
    elements: str
    default: []
  state_variable:
    description: The Airflow Variable that remembers which users the list made.
    type: str
    default: edp_managed_users
  validate_certs:
    description: Verify the api-server's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer of the api-server.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Reads the users and reports what would change; sends no write.
  diff_mode:
    support: none
requirements:
  - Apache Airflow 3 with apache-airflow-providers-fab and its api-server
seealso:
  - module: edp.platform.airflow_user
"""

EXAMPLES = r"""
- name: Keep the tenant's users
  edp.platform.airflow_users:
    url: http://127.0.0.1:8080
    admin_username: admin
    admin_password: "{{ vault_airflow_admin_password }}"
    keep: [admin]
    users:
      - {username: jdoe, email: jdoe@example.com, first_name: Jane, last_name: Doe, roles: [Op],
         password: "{{ vault_airflow_jdoe_password }}"}
"""

RETURN = r"""
created:
  description: The users made.
  returned: always
  type: list
  elements: str
updated:
  description: The users changed, each with the fields changed.
  returned: always
  type: dict
removed:
  description: The users removed (made by the list before, no longer in it).
  returned: always
  type: list
  elements: str
unchanged:
  description: The users that needed nothing.
  returned: always
  type: list
  elements: str
requests:
  description: The requests sent (method and path), in order.
  returned: always
  type: list
  elements: str
"""

import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edp.platform.plugins.module_utils import airflow_api

ARGUMENT_SPEC = dict(
    airflow_api.CONNECTION_SPEC,
    users=dict(type="list", elements="dict", required=True, options=dict(
        username=dict(type="str", required=True),
        email=dict(type="str", required=True),
        first_name=dict(type="str", required=True),
        last_name=dict(type="str", required=True),
        roles=dict(type="list", elements="str", required=True),
        password=dict(type="str", no_log=True),
    )),
    keep=dict(type="list", elements="str", default=[]),
    state_variable=dict(type="str", default="edp_managed_users"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    # The password of a directory or provider user (none listed), which nobody keeps.
    generated = secrets.token_urlsafe(32)
    airflow_api.run_module(
        module, "airflow_users", lambda client: airflow_api.ensure_users(
            client, params["users"], params["keep"], params["state_variable"], generated,
            check_mode=module.check_mode),
        secrets=[generated] + [user.get("password") for user in params["users"]])


if __name__ == "__main__":
    main()
