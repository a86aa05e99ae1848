#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Documentation of the k8s_apply action plugin (the work is done in plugins/action/k8s_apply.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_apply
short_description: Apply or render a tenant's Kubernetes objects in one call, pruning what is no longer rendered
version_added: 0.1.0
description:
  - The one apply path of the collection. Roles render their objects into a list; this
    action applies them (or the whole tenant at once) in dependency order over one
    connection from the controller.
  - It reads what is there with one LIST per kind and namespace, and sends a server-side
    apply (field manager O(field_manager), C(force=true), C(fieldValidation=Strict)) only for
    objects that differ from what is rendered. A rerun with nothing to change sends no write
    request.
  - An object is unchanged when its C(edp.platform/applied-hash) annotation matches what is
    rendered (catches removed fields) and every rendered field has the same value on the
    server (catches hand edits). Quantities are compared by value, Secrets by C(data).
  - Every object is labelled C(app.kubernetes.io/managed-by=edp.platform),
    C(edp.platform/tenant), C(edp.platform/environment) and C(edp.platform/role) (the
    component). With O(prune), objects carrying these labels for the components in this call
    that are no longer rendered are deleted; Namespaces and PersistentVolumeClaims are never
    deleted, only reported as C(orphaned).
  - Custom resources whose CRD is not installed are skipped and reported as C(skipped), except one
    annotated C(edp.platform/required-by) (the variable that asked for it, such as
    C(postgres_tls_issuer)), whose missing CRD makes the apply fail before any write, naming the CRD and the variable.
  - A Job whose template changed is deleted and created again (its spec is immutable), reported as
    C(replaced) with the reason; in check mode, where the server's dry run refuses the change, it is
    reported as C(replaced) too and nothing is written.
  - A Secret annotated C(edp.platform/generate) (comma-separated data keys, each optionally
    C(key:fernet) for a Fernet key rather than a 32-character token) gets a random
    value for each listed key that the rendered object does not set - read back from the
    live Secret when it has one, generated once otherwise - so passwords the inventory does not
    give are made on the first run and kept on every later run. Render mode writes no
    generated value.
  - A Secret annotated C(edp.platform/generate-tls) (JSON with C(names), C(days) and C(renew_days))
    gets a certificate authority and a server certificate for those names (C(ca.crt), C(ca.key),
    C(tls.crt), C(tls.key); ECDSA P-256), read back from the live Secret (or the previous render)
    while they are good, made anew when missing, when fewer than C(renew_days) remain, or when the
    names differ (the authority kept while it is good). C(extra) (by name, each with C(cn), C(names) and
    C(usages) - C(server) and/or C(client)) asks for more certificates of the same authority, in C(NAME.crt) and
    C(NAME.key), kept and renewed the same way. Like every Secret value, never shown.
  - With O(render_dir), nothing is sent to a cluster; the tenant is written as a GitOps export
    instead - every object but Secrets to C(render_dir/ENVIRONMENT/manifests/TENANT/NN-kind-name.yaml)
    with a C(kustomization.yaml), Secrets to C(render_dir/ENVIRONMENT/secrets/TENANT/) (folders 0700,
    files 0600, a C(.gitignore) keeps them out of a repository) - and stale files of the same
    components are removed. Generated Secret keys are read back from the previous render, so a
    re-render changes only what the inventory changed; an earlier Secret file that cannot be read
    stops the render rather than making new passwords.
  - Before any write, the apply refuses to change an object labelled for another tenant (or the
    same tenant of another environment), or one made by hand (no managed-by label) unless
    O(adopt); and a PersistentVolumeClaim that would shrink, change its storage class or access
    modes, or grow in a class without C(allowVolumeExpansion). Every reason is given at once,
    naming the object, both owners, or the variable the size comes from.
  - Runs in the controller process (an action plugin); it does not need the kubernetes Python
    package, only a kubeconfig or an in-cluster service account.
author:
  - edp.platform contributors
options:
  objects:
    description:
      - A list of objects (with O(component)), or a mapping of component name to list of
        objects.
      - Exactly one of O(objects) and O(components) is required.
    type: raw
  components:
    description:
      - Render and apply these roles' objects, a whole tenant at once (as site.yml does).
      - Each role lists its templates, one object per file, in C(<role>_k8s_templates) in its
        C(vars/main.yml); they are rendered with the role's documented defaults, the host's
        variables and the role's vars, in this task - the objects (Secrets among them) never
        pass through facts. Only these components are pruned.
      - With C(network_policy) among them and C(network_policy_kube_api_from_endpoints) true, the
        API server's addresses and port are read from the C(kubernetes) Endpoints (one GET) for its
        policies; render mode keeps C(network_policy_kube_api_cidrs).
    type: list
    elements: str
  component:
    description:
      - The component (role) the objects in a list belong to; the prune scope.
    type: str
  tenant:
    description:
      - The tenant the objects belong to; the C(edp.platform/tenant) label and the prune scope.
      - Options left out are taken from the cross-role variables of the same meaning -
        C(edp_tenant), C(edp_environment), C(edp_namespace), C(edp_labels), C(edp_adopt), C(edp_render_dir), C(edp_render_secret_values), C(edp_kubeconfig),
        C(edp_kube_context), C(edp_wait), C(edp_wait_timeout) and C(edp_release_history) - so role tasks stay short.
    type: str
    required: true
  environment:
    description:
      - The environment, written to the C(edp.platform/environment) label.
    type: str
  namespace:
    description:
      - The tenant's namespace. Searched for objects to prune even when nothing is rendered
        into it any more (besides the namespaces the objects name).
    type: str
  labels:
    description:
      - More labels for every object (the object's own labels win).
    type: dict
    default: {}
  prune:
    description:
      - Delete objects of these components that were applied before and are no longer rendered.
    type: bool
    default: true
  adopt:
    description:
      - Take over objects made by hand under the names the platform uses (they get its labels and
        are managed from then on; a generated Secret key they hold is kept). Objects labelled for
        another tenant are never taken over.
    type: bool
    default: false
  render_dir:
    description:
      - Write the objects as YAML files below this folder instead of applying them.
    type: str
  render_secret_values:
    description:
      - With O(render_dir), write the Secrets (private files). When false, no Secret is written and
        earlier Secret files are left as they are; the result's C(render.secrets_omitted) names each
        Secret with the keys it must hold, for a secret store that provides them (External Secrets,
        Sealed Secrets, SOPS). Defaults to C(edp_render_secret_values).
    type: bool
    default: true
  kubeconfig:
    description:
      - Path to a kubeconfig. Defaults to E(K8S_AUTH_KUBECONFIG), E(KUBECONFIG),
        C(~/.kube/config), then the in-cluster service account.
    type: path
  context:
    description:
      - The kubeconfig context to use instead of its current context.
    type: str
  field_manager:
    description:
      - The server-side apply field manager.
    type: str
    default: edp-platform
  wait:
    description:
      - Wait until Deployments and StatefulSets are ready and Jobs complete, asking every second.
      - A Job that fails stops the wait at once, and the task fails naming it with the Job's reason.
        When O(wait_timeout) runs out, the task fails naming the first workload not ready and its progress.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait).
    type: int
    default: 300
  release_history:
    description:
      - When the apply changed something, record a release in O(namespace) - a Secret C(edp-release.v<N>) of
        type C(edp.platform/release.v1) holding the revision, the collection version, the inventory's git commit
        (when the inventory is in a git checkout), the sha256 of the applied set and the applied objects as gzip'd
        JSON, every Secret value masked - and keep this many, deleting older ones. A run that changed nothing
        records nothing and writes nothing. The objects of components not in this call are carried over from the
        previous release, so every release describes the whole tenant.
      - A run that changes nothing does not read them (its LIST of Secrets leaves them out, by label); a run that
        changed something reads them with one LIST by label, writes one, and deletes each beyond the number kept.
      - V(0) (or no O(namespace)) records none; C(playbooks/rollback.yml) goes back to a release,
        C(playbooks/history.yml) lists them. Not in render mode.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: Reads only; objects that would change are sent with C(dryRun=All) so the server validates them.
  diff_mode:
    support: full
    description: Shows each changed object before and after; Secret values are masked.
notes:
  - Needs C(get), C(list) and C(patch) on the kinds it applies in the tenant namespace, C(delete)
    to prune, and C(get)/C(patch) on the Namespace when it manages it; C(get) on StorageClasses
    lets it refuse a volume growth its class does not allow before any write (without it, the API
    server refuses that one).
"""

EXAMPLES = r"""
- name: Apply the tenant role's objects on their own
  edp.platform.k8s_apply:
    objects: "{{ tenant_objects }}"
    component: tenant
    tenant: "{{ edp_tenant }}"
    environment: "{{ edp_environment }}"

- name: Apply a whole tenant (what every role rendered) in one call
  edp.platform.k8s_apply:
    components: [tenant, postgres, airflow]
    wait: true

- name: Write the objects for GitOps instead of applying them
  edp.platform.k8s_apply:
    components: [tenant]
    render_dir: /srv/gitops
"""

RETURN = r"""
objects:
  description: One entry per object, in apply order, with what was done.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Namespace, name: finance-prod, action: unchanged}
    - {kind: ResourceQuota, name: compute, namespace: finance-prod, action: updated}
counts:
  description: How many objects got each action (created, updated, replaced, unchanged, deleted, orphaned, skipped, written, removed).
  returned: always
  type: dict
  sample: {created: 2, unchanged: 3}
release:
  description: The release recorded (in check mode, the one that would be, with C(recorded=false)).
  returned: when the apply changed something and O(release_history) is set
  type: dict
  sample: {revision: 3, secret: edp-release.v3, hash: 9f2c0d..., objects: 58, source: site, pruned_revisions: [1]}
requests:
  description: How many read and write requests were sent to the API server.
  returned: when applying (not in render mode)
  type: dict
  sample: {reads: 19, writes: 0}
render:
  description: Render mode's two folders for this tenant.
  returned: in render mode
  type: dict
  sample: {manifests: /srv/gitops/prod/manifests/finance, secrets: /srv/gitops/prod/secrets/finance}
  contains:
    secrets_omitted:
      description: Without O(render_secret_values), each Secret left out with the keys it must hold (C(secrets) is then null).
      returned: when O(render_secret_values) is false
      type: dict
      sample: {postgres-credentials: [airflow-database, airflow-password, airflow-user, superuser, superuser-password]}
msg:
  description: The counts in words.
  returned: always
  type: str
  sample: 2 created, 3 unchanged
"""

if __name__ == "__main__":
    raise SystemExit("k8s_apply is an action plugin: run it as a task, not as a script")
