# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Releases: what each run that changed a tenant applied, kept in the tenant's namespace.

As Helm keeps its releases (Secrets of type ``helm.sh/release.v1``), one Secret per release,
``edp-release.v<N>`` of type ``edp.platform/release.v1``, labelled with the tenant and the
revision; its one key holds the release as gzip'd JSON: the revision, where it came from (a
site run, or a rollback to revision M), the collection's version, the inventory's git commit
when there is one, the sha256 of the applied set and the applied objects themselves. Secret
values are never stored: each ``data`` value is replaced by ``ko.MASK``.

What it costs the apply path: nothing on a run that changes nothing (the live state's LIST of
Secrets leaves the releases out, by label: a tenant's release is tens of kilobytes); on a run
that changed something, one LIST of the releases by label, one write, and one DELETE per
release beyond the history kept.

The apply's prune never takes a release Secret: the live state does not list them, and they
carry no ``edp.platform/role`` label (a prune deletes only objects of the components it applies).

Pure functions first (unit-tested in tests/unit/test_k8s_release.py), then the reads and
writes, which take an ``ApplyService``.
"""

from __future__ import annotations

import base64
import copy
import datetime
import gzip
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils.kube import KubeApiError

RELEASE_TYPE = "edp.platform/release.v1"
NAME_PREFIX = "edp-release.v"
LABEL_REVISION = "edp.platform/release"
LABEL_SOURCE = "edp.platform/release-source"  # site, or rollback
DATA_KEY = "release"
ANNOTATION_HASH = "edp.platform/release-hash"
ANNOTATION_ROLLBACK_OF = "edp.platform/rollback-of"
DEFAULT_HISTORY = 10
SECRETS = {"name": "secrets", "namespaced": True}
# What a rollback leaves as it is live: Secrets (a release keeps no Secret value, and a generated
# password must stay the one the database knows) and volumes (a grown volume cannot shrink back).
# It deletes neither (KEPT_KINDS; the apply's prune never deletes a volume anyway).
KEPT_KINDS = frozenset({"Secret"})
LEFT_AS_THEY_ARE = frozenset({"Secret", "PersistentVolumeClaim"})


class ReleaseError(Exception):
    """A release cannot be read, or the revision asked for is not kept."""


@dataclass(frozen=True)
class ReleaseSettings:
    """Where releases go and what each records besides the objects.

    ``provenance``: a callable returning ``{"collection_version": ..., "inventory_commit": ...}``
    (called only when a release is written: it may run git). ``source``: ``site`` or
    ``rollback``; ``rollback_of``: the revision a rollback went back to.
    """

    namespace: str
    history: int = DEFAULT_HISTORY
    provenance: object = None
    source: str = "site"
    rollback_of: int | None = None


@dataclass
class Release:
    """One release Secret, its content decoded on first use."""

    secret: dict
    _content: dict | None = field(default=None, repr=False)

    @property
    def revision(self):
        return revision_of(self.secret)

    @property
    def content(self):
        if self._content is None:
            self._content = decode(self.secret)
        return self._content

    @property
    def objects(self):
        return self.content.get("objects") or []


# -- pure functions --------------------------------------------------------------------------
def secret_name(revision):
    return "%s%d" % (NAME_PREFIX, revision)


def masked(obj):
    """A copy of obj fit to keep: a Secret's values replaced by ko.MASK (its keys kept)."""
    result = copy.deepcopy(obj)
    if result.get("kind") == "Secret":
        for name in ("data", "stringData"):
            if name in result:
                result[name] = {k: ko.MASK for k in result[name]}
    return result


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def applied_hash(objects):
    """sha256 of the canonical JSON of the (masked) applied set: equal sets, equal hashes. A
    changed Secret value still changes it, through the Secret's applied-hash annotation."""
    return hashlib.sha256(canonical(objects).encode()).hexdigest()


def encode(content):
    """base64 of the gzip of the content's canonical JSON (no time in the gzip header, so equal
    content gives equal bytes)."""
    return base64.b64encode(gzip.compress(canonical(content).encode(), mtime=0)).decode()


def decode(secret):
    """A release Secret's content; ReleaseError when it is not one or cannot be read."""
    raw = ((secret or {}).get("data") or {}).get(DATA_KEY)
    if not raw:
        raise ReleaseError("%s holds no %s key" % (ko.ident(secret), DATA_KEY))
    try:
        content = json.loads(gzip.decompress(base64.b64decode(raw)))
    except (ValueError, OSError, EOFError) as exc:
        raise ReleaseError("%s cannot be read: %s" % (ko.ident(secret), exc))
    if not isinstance(content, dict) or not isinstance(content.get("objects"), list):
        raise ReleaseError("%s holds no list of objects" % ko.ident(secret))
    return content


def revision_of(secret):
    """The revision of a release Secret, or None when it is not one."""
    if secret.get("type") != RELEASE_TYPE:
        return None
    value = ((secret.get("metadata") or {}).get("labels") or {}).get(LABEL_REVISION, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def releases_in(secrets, namespace, tenant, environment):
    """The tenant's releases among ``secrets`` (any objects) in namespace, oldest first."""
    found = [s for s in secrets if s.get("kind", "Secret") == "Secret"
             and (s.get("metadata") or {}).get("namespace", namespace) == namespace
             and revision_of(s) is not None and ko.owned_by(s, tenant, environment)]
    return [Release(s) for s in sorted(found, key=revision_of)]


def next_objects(previous, objects, components):
    """The objects of the new release: those of this run, and those of the previous release
    whose component this run did not apply (a role run on its own records the whole tenant)."""
    kept = [o for o in previous if (o["metadata"].get("labels") or {}).get(ko.LABEL_ROLE) not in components]
    return ko.ordered(kept + [masked(o) for o in objects])


def content_of(revision, settings, release, objects, provenance, now=None):
    """What a release Secret holds."""
    content = {
        "revision": revision,
        "tenant": settings.tenant,
        "namespace": release.namespace,
        "source": release.source,
        "recorded_at": (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "components": sorted({(o["metadata"].get("labels") or {}).get(ko.LABEL_ROLE)
                              for o in objects} - {None}),
        "hash": applied_hash(objects),
        "objects": objects,
    }
    if settings.environment:
        content["environment"] = settings.environment
    if release.rollback_of is not None:
        content["rollback_of"] = release.rollback_of
    content.update({k: v for k, v in (provenance or {}).items() if v not in (None, "")})
    return content


def release_secret(content, labels):
    """The Secret that keeps a release."""
    labels = dict(labels, **{LABEL_REVISION: str(content["revision"]), LABEL_SOURCE: content["source"]})
    annotations = {ANNOTATION_HASH: content["hash"]}
    if "rollback_of" in content:
        annotations[ANNOTATION_ROLLBACK_OF] = str(content["rollback_of"])
    return {"apiVersion": "v1", "kind": "Secret", "type": RELEASE_TYPE,
            "metadata": {"name": secret_name(content["revision"]), "namespace": content["namespace"],
                         "labels": labels, "annotations": annotations},
            "data": {DATA_KEY: encode(content)}}


def owner_labels(settings):
    labels = {ko.LABEL_MANAGED_BY: ko.MANAGED_BY, ko.LABEL_PART_OF: "edp", ko.LABEL_TENANT: settings.tenant}
    if settings.environment:
        labels[ko.LABEL_ENVIRONMENT] = settings.environment
    return labels


def summary(release, current=None):
    """A release in a line's worth of fields, for history.yml (no object, no secret)."""
    content = release.content
    item = {k: content[k] for k in ("revision", "recorded_at", "source", "rollback_of", "collection_version",
                                    "inventory_commit", "inventory_dirty", "hash", "components") if k in content}
    item["objects"] = len(content["objects"])
    item["current"] = release.revision == current
    return item


def line(item):
    """One release of summary() in words, for history.yml."""
    words = ["revision %d%s" % (item["revision"], " (current)" if item.get("current") else ""),
             item.get("recorded_at", "?"),
             "rollback to %s" % item["rollback_of"] if item.get("source") == "rollback" else item.get("source", "?"),
             "collection %s" % item.get("collection_version", "?"),
             "inventory %s%s" % (item["inventory_commit"][:12], " (uncommitted changes)"
                                 if item.get("inventory_dirty") else "") if item.get("inventory_commit")
             else "inventory not in git",
             "%d objects" % item["objects"], "sha256 %s" % item.get("hash", "?")[:16]]
    return ", ".join(words)


def pick(releases, revision, tenant, namespace):
    """``(the release to go back to, the current one)``. ``revision`` 0 means the one before the
    current release. ReleaseError says which revisions are kept when the one asked for is not."""
    if not releases:
        raise ReleaseError("tenant %s has no release in namespace %s: site.yml records one on each run "
                           "that changes the tenant" % (tenant, namespace))
    current = releases[-1]
    kept = ", ".join(str(r.revision) for r in releases)
    if revision == 0:
        if len(releases) < 2:
            raise ReleaseError("tenant %s has no release before revision %d in namespace %s (releases kept: %s)"
                               % (tenant, current.revision, namespace, kept))
        return releases[-2], current
    for release in releases:
        if release.revision == revision:
            return release, current
    raise ReleaseError("tenant %s has no release %d in namespace %s (releases kept: %s; edp_release_history "
                       "sets how many are kept)" % (tenant, revision, namespace, kept))


def split_for_rollback(objects):
    """``(objects to re-apply, objects left as they are live)``: a release keeps no Secret value,
    and a volume that grew cannot shrink back, so its Secrets and PersistentVolumeClaims are
    neither re-applied nor pruned."""
    apply = [o for o in objects if o["kind"] not in LEFT_AS_THEY_ARE]
    keep = [o for o in objects if o["kind"] in LEFT_AS_THEY_ARE]
    return apply, keep


# -- provenance (controller side) ------------------------------------------------------------
def collection_version(collection_dir):
    """The collection's version: MANIFEST.json of an installed copy, else galaxy.yml of a checkout."""
    try:
        with open(os.path.join(collection_dir, "MANIFEST.json")) as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(os.path.join(collection_dir, "galaxy.yml")) as handle:
            for line in handle:
                if line.startswith("version:"):
                    return line.split(":", 1)[1].strip().strip("'\"")
    except OSError:
        pass
    return None


def git_commit(folder):
    """``{"inventory_commit": sha, "inventory_dirty": bool}`` of the git checkout folder is in,
    or {} when it is in none (or git is missing)."""
    if not folder:
        return {}
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return {}
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--", "."], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    found = {"inventory_commit": head.stdout.strip()}
    if status.returncode == 0:
        found["inventory_dirty"] = bool(status.stdout.strip())
    return found


# -- reads and writes ------------------------------------------------------------------------
def list_releases(service, settings, namespace):
    """The tenant's releases in namespace, oldest first: one LIST, by label."""
    path = service.client.path("v1", SECRETS, namespace)
    try:
        listing = service.client.request("GET", path, {"labelSelector": LABEL_REVISION})
    except KubeApiError as exc:
        if exc.status == 404:  # no namespace yet: no release
            return []
        raise
    return releases_in(listing.get("items") or [], namespace, settings.tenant, settings.environment)


def record(service, settings, release, objects, previous, now=None):
    """Write the next release (one server-side apply) and delete the oldest beyond
    ``release.history``. ``objects``: what this run applied (masked here); ``previous``: the
    releases there are, oldest first. Returns what was done, for the task result."""
    last = previous[-1] if previous else None
    revision = last.revision + 1 if last else 1
    merged = next_objects(last.objects if last else [], objects, settings.components)
    provenance = release.provenance() if callable(release.provenance) else (release.provenance or {})
    content = content_of(revision, settings, release, merged, provenance, now)
    secret = release_secret(content, owner_labels(settings))
    path = service.client.path("v1", SECRETS, release.namespace, secret["metadata"]["name"])
    service.client.request("PATCH", path, settings.apply_query, secret, "application/apply-patch+yaml")
    revisions = [r.revision for r in previous] + [revision]
    pruned = []
    for old in revisions[:-release.history] if len(revisions) > release.history else []:
        service.client.request("DELETE", service.client.path("v1", SECRETS, release.namespace, secret_name(old)))
        pruned.append(old)
    done = {"revision": revision, "secret": secret["metadata"]["name"], "hash": content["hash"],
            "objects": len(merged), "source": release.source}
    if release.rollback_of is not None:
        done["rollback_of"] = release.rollback_of
    if pruned:
        done["pruned_revisions"] = pruned
    return done
