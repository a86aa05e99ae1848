# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Tenants of one inventory that would share a namespace (or, on the local target, a home)."""

from __future__ import annotations

import os

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.edp.platform.plugins.plugin_utils.roles import ROLES_DIR

DOCUMENTATION = r"""
name: namespace_collisions
short_description: Tenants of an inventory that resolve to the same namespace
version_added: 0.1.0
description:
  - Takes the tenants (inventory hosts) and C(hostvars), resolves each tenant's C(edp_namespace)
    with the C(edp.platform.edp) role's defaults under the tenant's own variables (so
    C(<tenant>-<environment>) unless the inventory says otherwise), and returns one message per
    namespace that two or more tenants would share, naming them and the namespace.
  - Tenants on different clusters (C(edp_kubeconfig), C(edp_kube_context)) never collide. On the
    local target the tenant's home (C(edp_local_root)/C(edp_tenant)) is compared instead.
  - Hosts excluded by C(--limit) are compared too; a tenant whose variables cannot be resolved
    (an undefined variable) is left out, for its own validation to name the problem.
options:
  _input:
    description: The tenants, for example C(groups['tenants']).
    type: list
    elements: str
    required: true
  hostvars:
    description:
      - The C(hostvars) magic variable, or a mapping of each tenant to its inventory variables
        (group and host variables merged), as C(playbooks/onboard.yml) builds for a tenant that
        is not in the inventory yet.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse tenants that share a namespace
  ansible.builtin.assert:
    that: collisions | length == 0
    fail_msg: "{{ collisions | join('; ') }}"
  vars:
    collisions: "{{ groups['tenants'] | edp.platform.namespace_collisions(hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: One message per shared namespace, empty when every tenant has its own.
  type: list
  elements: str
"""

_KEYS = ("edp_target", "edp_namespace", "edp_tenant", "edp_kubeconfig", "edp_kube_context", "edp_local_root")
_defaults = None


def _edp_defaults():
    """The edp role's defaults, their templates trusted as in the role."""
    global _defaults
    if _defaults is None:
        with open(os.path.join(ROLES_DIR, "edp", "defaults", "main.yml"), encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
        _defaults = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in raw.items()}
    return _defaults


def _names(items):
    items = sorted(items)
    return items[0] if len(items) == 1 else "%s and %s" % (", ".join(items[:-1]), items[-1])


def resolve(host, variables, loader=None):
    """``{edp_target, edp_namespace, ...}`` of one tenant: its variables over the edp defaults."""
    merged = dict(_edp_defaults())
    merged.update(variables)
    merged.setdefault("inventory_hostname", host)
    templar = Templar(loader=loader, variables=merged)
    return {key: templar.template(merged[key]) for key in _KEYS if key in merged}


def collisions(resolved):
    """Messages for a ``{tenant: resolve(...)}`` mapping (pure, unit-tested)."""
    places = {}
    for tenant, settings in resolved.items():
        if settings.get("edp_target") == "local":
            home = "%s/%s" % (str(settings.get("edp_local_root", "")).rstrip("/"), settings.get("edp_tenant"))
            key = ("local", "", home)
        else:
            key = (settings.get("edp_kubeconfig") or "", settings.get("edp_kube_context") or "",
                   settings.get("edp_namespace"))
        places.setdefault(key, []).append(tenant)
    messages = []
    for (first, second, place), tenants in sorted(places.items(), key=lambda item: str(item[0])):
        if len(tenants) < 2:
            continue
        word = "both" if len(tenants) == 2 else "all"
        if first == "local":
            messages.append("tenants %s %s resolve to the home %s on this host (edp_local_root, edp_tenant): "
                            "give each its own edp_tenant" % (_names(tenants), word, place))
        else:
            messages.append("tenants %s %s resolve to the namespace %s (edp_namespace): give each its own "
                            "edp_namespace (it defaults to <edp_tenant>-<edp_environment>)"
                            % (_names(tenants), word, place))
    return messages


def namespace_collisions(tenants, hostvars):
    loader = DataLoader()
    resolved = {}
    for host in tenants or []:
        try:
            if hasattr(hostvars, "raw_get"):
                variables = hostvars.raw_get(host)
            else:  # read from the inventory's files: trusted as the inventory trusts them
                variables = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in hostvars[host].items()}
            resolved[host] = resolve(host, variables, loader)
        except Exception:  # an undefined or vaulted variable: the tenant's own validation names it
            continue
    return collisions(resolved)


class FilterModule:
    def filters(self):
        return {"namespace_collisions": namespace_collisions}
