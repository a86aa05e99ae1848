#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Airflow's roles of our own kept as a list (the logic lives in module_utils/airflow_api.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: airflow_roles
short_description: Keep Apache Airflow 3's own roles as a list, with exactly their permissions (FAB auth manager)
version_added: 0.2.0
description:
  - Makes every role of O(roles) exist in Airflow 3 with the FAB auth manager, with exactly the listed
    permissions (action and resource), through the api-server's REST API (C(/auth/fab/v1/roles)).
  - Removes the roles this list made before and no longer names - never Airflow's own (O(builtin)) nor a
    role made by hand. Which roles the list made is kept in the Airflow Variable O(state_variable).
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
  roles:
    description: The roles.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The role's name.
        type: str
        required: true
      permissions:
        description: Its permissions, each C(action) (such as V(can_read)) and C(resource) (such as V(DAGs)).
        type: list
        elements: dict
        required: true
  builtin:
    description: Airflow's own roles, never removed.
    type: list
    elements: str
    default: [Admin, Op, User, Viewer, Public]
  state_variable:
    description: The Airflow Variable that remembers which roles the list made.
    type: str
    default: edp_managed_roles
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
    description: Reads the roles and reports what would change; sends no write.
  diff_mode:
    support: none
requirements:
  - Apache Airflow 3 with apache-airflow-providers-fab and its api-server
"""

EXAMPLES = r"""
- name: A role that reads DAGs and their runs only
  edp.platform.airflow_roles:
    url: http://127.0.0.1:8080
    admin_username: admin
    admin_password: "{{ vault_airflow_admin_password }}"
    roles:
      - name: Auditor
        permissions:
          - {action: can_read, resource: DAGs}
          - {action: can_read, resource: DAG Runs}
"""

RETURN = r"""
created:
  description: The roles made.
  returned: always
  type: list
  elements: str
updated:
  description: The roles whose permissions changed.
  returned: always
  type: list
  elements: str
removed:
  description: The roles removed.
  returned: always
  type: list
  elements: str
unchanged:
  description: The roles that needed nothing.
  returned: always
  type: list
  elements: str
requests:
  description: The requests sent (method and path), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edp.platform.plugins.module_utils import airflow_api

ARGUMENT_SPEC = dict(
    airflow_api.CONNECTION_SPEC,
    roles=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        permissions=dict(type="list", elements="dict", required=True),
    )),
    builtin=dict(type="list", elements="str", default=["Admin", "Op", "User", "Viewer", "Public"]),
    state_variable=dict(type="str", default="edp_managed_roles"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    airflow_api.run_module(module, "airflow_roles", lambda client: airflow_api.ensure_roles(
        client, params["roles"], params["builtin"], params["state_variable"], check_mode=module.check_mode))


if __name__ == "__main__":
    main()
