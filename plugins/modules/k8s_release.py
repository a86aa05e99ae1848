#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Documentation of the k8s_release action plugin (the work is done in plugins/action/k8s_release.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_release
short_description: List a tenant's releases, or roll the tenant back to one
version_added: 0.1.0
description:
  - Each run of M(edp.platform.k8s_apply) that changes a tenant records a release in the tenant's
    namespace (its option O(edp.platform.k8s_apply#module:release_history)), as Helm does - a Secret
    C(edp-release.v<N>) of type C(edp.platform/release.v1), labelled C(edp.platform/release=<N>), holding as
    gzip'd JSON the revision, where it came from (C(site) or C(rollback)), the collection version, the
    inventory's git commit (and whether the checkout had uncommitted changes), the sha256 of the applied set
    and the applied objects, every Secret value replaced by C(********).
  - O(operation=history) lists them (one LIST request), oldest first, without the objects.
  - O(operation=rollback) goes back to release O(revision) (V(0), the default, is the one before the current
    release) - it re-applies that release's objects except its Secrets and prunes the tenant's objects the
    release did not have, by the apply's own rules (server-side apply of what differs, a rerun writes nothing).
  - A release holds no Secret value, so a rollback neither re-applies nor deletes a Secret - generated
    passwords and keys stay the ones the database and the pods know; a Secret of the release that is no
    longer in the cluster stops the rollback before any write. The release's PersistentVolumeClaims are left
    as they are too (a grown volume cannot shrink back; one that is gone is created). PersistentVolumeClaims
    and Namespaces are never deleted (reported as C(orphaned)), Secrets the release did not have are
    reported as C(kept).
  - The rollback is recorded as a new release (source C(rollback), C(rollback_of) the revision gone back to),
    so the history shows it; after it, the default O(revision) (the previous release) is the one rolled away
    from. A revision no longer kept fails before any write, naming the revisions that are.
  - Runs in the controller process (an action plugin), over the same client as M(edp.platform.k8s_apply).
author:
  - edp.platform contributors
options:
  operation:
    description:
      - V(history) lists the releases; V(rollback) goes back to O(revision).
    type: str
    required: true
    choices: [history, rollback]
  revision:
    description:
      - The release to go back to; V(0) means the one before the current (newest) release.
    type: int
    default: 0
  tenant:
    description:
      - The tenant whose releases these are (C(edp.platform/tenant) label).
      - Options left out are taken from the cross-role variables of the same meaning - C(edp_tenant),
        C(edp_environment), C(edp_namespace), C(edp_release_history), C(edp_kubeconfig) and C(edp_kube_context).
    type: str
    required: true
  environment:
    description:
      - The environment (C(edp.platform/environment) label).
    type: str
  namespace:
    description:
      - The tenant's namespace, where its releases are kept.
    type: str
    required: true
  release_history:
    description:
      - How many releases to keep when the rollback records its own (older ones are deleted); at least 1.
    type: int
    default: 10
  kubeconfig:
    description:
      - Kubeconfig path; unset uses C(K8S_AUTH_KUBECONFIG), C(KUBECONFIG), C(~/.kube/config) or the in-cluster account.
    type: path
  context:
    description:
      - Kubeconfig context; unset uses its current context.
    type: str
  field_manager:
    description:
      - The field manager of the server-side applies.
    type: str
    default: edp-platform
attributes:
  check_mode:
    support: full
    description: Reads only; the objects a rollback would change are sent with C(dryRun=All), no release is written.
  diff_mode:
    support: full
    description: Shows each object a rollback changes, before and after; Secret values are masked.
notes:
  - Needs C(list) on Secrets in the tenant namespace; a rollback needs what M(edp.platform.k8s_apply) needs.
"""

EXAMPLES = r"""
- name: List the tenant's releases
  edp.platform.k8s_release:
    operation: history
  register: releases

- name: Go back to the release before the current one
  edp.platform.k8s_release:
    operation: rollback

- name: Go back to release 4
  edp.platform.k8s_release:
    operation: rollback
    revision: 4
"""

RETURN = r"""
releases:
  description: The releases kept, oldest first (O(operation=history)).
  returned: with O(operation=history)
  type: list
  elements: dict
  sample:
    - {revision: 1, recorded_at: "2026-12-01T09:00:00Z", source: site, collection_version: 0.1.0,
       inventory_commit: 4be1c2a0d8e4f1c3b2a1d0e9f8c7b6a5d4e3f2a1, inventory_dirty: false,
       hash: 5d41402abc4b2a76b9719d911017c592ae2c4f6b2d0a1f3c9e8d7b6a5f4e3d2c, components: [tenant], objects: 4,
       current: false}
    - {revision: 2, recorded_at: "2026-12-02T09:00:00Z", source: rollback, rollback_of: 1, objects: 4, current: true}
lines:
  description: Each release of RV(releases) in words, oldest first.
  returned: with O(operation=history)
  type: list
  elements: str
  sample:
    - "revision 1, 2026-12-01T09:00:00Z, site, collection 0.1.0, inventory 4be1c2a0d8e4, 4 objects, sha256 5d41402abc4b2a76"
revision:
  description: The release gone back to (O(operation=rollback)).
  returned: with O(operation=rollback)
  type: int
  sample: 4
objects:
  description: One entry per object of the rollback, in apply order, with what was done (as M(edp.platform.k8s_apply)).
  returned: with O(operation=rollback)
  type: list
  elements: dict
  sample:
    - {kind: Deployment, name: airflow-scheduler, namespace: finance-prod, action: updated}
    - {kind: ConfigMap, name: extra, namespace: finance-prod, action: deleted}
counts:
  description: How many objects got each action.
  returned: with O(operation=rollback)
  type: dict
  sample: {updated: 1, deleted: 1, unchanged: 40}
release:
  description: The release that records the rollback (in check mode, the one that would, with C(recorded=false)).
  returned: when a rollback changed something
  type: dict
  sample: {revision: 6, secret: edp-release.v6, source: rollback, rollback_of: 4, objects: 41, hash: 5d41...}
requests:
  description: How many read and write requests were sent to the API server.
  returned: with O(operation=rollback)
  type: dict
  sample: {reads: 20, writes: 3}
msg:
  description: What was done, in words.
  returned: always
  type: str
  sample: "back to revision 4: 1 deleted, 40 unchanged, 1 updated"
"""

if __name__ == "__main__":
    raise SystemExit("k8s_release is an action plugin: run it as a task, not as a script")
