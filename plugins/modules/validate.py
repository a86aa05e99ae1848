#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Documentation of the validate action plugin (the work is done in plugins/action/validate.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate
short_description: Validate the inventory for several roles at once, before anything is changed
version_added: 0.1.0
description:
  - Applies each role's argument spec (C(meta/argument_specs.yml), entry point C(main)) to the
    host's variables, with the spec's defaults where a variable is not set, as Ansible's role
    argument validation does.
  - Then runs the role's C(<role>_input_checks) from its C(vars/main.yml) - DNS-1123 names,
    Kubernetes quantities, pinned images, labels, required secrets, ports, requests within
    limits, the quota and the database connections the platform needs, URLs of the schemes
    an environment allows, LDAP DNs and filters, role mappings and users whose every role
    exists, a variable that must stay empty where nothing would use it (C(empty)) (see the
    P(edp.platform.input_errors#filter) filter). Each check names a variable (C(var), a dotted
    path reaches into a mapping) and the C(check), optionally C(unless_empty), a C(when)
    condition (or a variable's name), C(with) (other variables to compare with, by name),
    C(needs) (roles that must be validated too) and C(platform) (the check gets the pods and
    volumes of the roles validated, C(<role>_k8s_pods) and C(<role>_k8s_volumes) in their
    C(vars/main.yml)); images must be pinned where C(edp_environment) is in
    C(edp_pinned_environments). The checks run once every role's spec has been applied, so
    they compare values of several roles.
  - Then refuses every variable (inventory, extra vars) with a platform prefix - C(edp_) or
    C(<role>_) for every role of the collection - that no role declares in its argument spec
    or C(vars/main.yml) and the collection does not set itself (play C(vars), C(register),
    C(set_fact)); the message suggests the closest declared name. C(edp_extra_variables)
    lists deliberate ones.
  - Reports every problem of every role in one message, each naming the variable. Secret
    values are never part of a message.
  - site.yml runs it once per tenant for all its roles, so a bad inventory fails before the
    first object is rendered, and the roles themselves skip their per-role validation tasks.
author:
  - edp.platform contributors
options:
  roles:
    description:
      - Names of the collection's roles whose inputs to check (for example C([edp, tenant])).
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Validate every role's inputs for this tenant
  edp.platform.validate:
    roles: [edp, tenant]
"""

RETURN = r"""
errors:
  description: One message per problem, naming the variable.
  returned: failed
  type: list
  elements: str
  sample:
    - "tenant_quota['requests.cpu']: '2 cores' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"
    - "postgres_storage_sise: no role of edp.platform declares this variable (did you mean postgres_storage_size?)"
msg:
  description: What was checked, or every problem in one line.
  returned: always
  type: str
"""

if __name__ == "__main__":
    raise SystemExit("validate is an action plugin: run it as a task, not as a script")
