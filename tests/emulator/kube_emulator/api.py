"""REST semantics of resource endpoints, independent of HTTP.

:class:`Api` implements the verbs of the real server's generic registry for
every resource type (no per-kind handlers): ``get``, ``list`` (+ ``watch``),
``create``, ``update`` (PUT), ``patch`` (four patch types), ``delete`` and
``deletecollection``, plus the ``status``, ``scale``, ``log`` and ``exec``
subresources.

Every write goes through one pipeline, in the order the real server uses::

    decode body -> check apiVersion/kind/name/namespace
      -> (patch: apply patch to the live object)
      -> unknown fields per ``fieldValidation`` (Strict 422 / Warn header / Ignore)
      -> (apply: server-side apply merge + ownership)
      -> reset fields the endpoint may not change (status vs. main resource)
      -> defaulting -> validation (schema, names, labels, immutability) -> 422
      -> generation, controller status, managedFields
      -> no-op? return the live object unchanged : store with next resourceVersion
      (``dryRun=All``: everything except the store)

CustomResourceDefinitions are ordinary objects of this pipeline with one
hook: storing one (re)registers its resource types; deleting one
unregisters them and deletes its objects.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import yaml

from . import apply as ssa
from . import controllers, defaults, errors, patch, selectors, validation
from .apply import ManagedFields, field_values, manager_from_user_agent, now
from .resources import Registry, ResourceType
from .schema import ANY, BuiltinSchemas, KindSchema, crd_kind_schema, prune_unknown
from .store import Store

PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_STRATEGIC = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"

NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")


@dataclass
class Request:
    """A resource request, already routed to a :class:`ResourceType`."""

    method: str
    rtype: ResourceType
    namespace: str | None = None  # None: cluster-scoped, or all namespaces for lists
    name: str | None = None
    subresource: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""
    user_agent: str = ""

    @property
    def dry_run(self) -> bool:
        return self.query.get("dryRun") == "All"


@dataclass
class Response:
    code: int
    body: Any = None  # JSON-able, or str for text/plain
    warnings: list[str] = field(default_factory=list)
    content_type: str = "application/json"
    stream: Iterator[dict | None] | None = None  # watch events; None = idle tick


# ------------------------------------------------------------------- decoding


class _DuplicateTracker:
    def __init__(self) -> None:
        self.duplicates: list[str] = []

    def hook(self, pairs: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out:
                self.duplicates.append(key)
            out[key] = value
        return out


class _YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that records duplicate mapping keys."""

    duplicates: list[str]

    def construct_mapping(self, node, deep=False):  # noqa: D102
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                self.duplicates.append(str(key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                            lambda loader, node: loader.construct_mapping(node, deep=True))


def decode_body(body: bytes, content_type: str) -> tuple[Any, list[str]]:
    """Parse a JSON or YAML request body; returns (value, duplicate keys)."""
    if not body.strip():
        raise errors.bad_request("the body of the request is empty")
    text = body.decode("utf-8", errors="replace")
    if "yaml" in content_type:
        loader = _YamlLoader(text)
        loader.duplicates = []
        try:
            return loader.get_single_data(), loader.duplicates
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from None
        finally:
            loader.dispose()
    tracker = _DuplicateTracker()
    try:
        return json.loads(text, object_pairs_hook=tracker.hook), tracker.duplicates
    except json.JSONDecodeError as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


# ------------------------------------------------------------------------ Api


class Api:
    def __init__(self, registry: Registry, store: Store, builtin: BuiltinSchemas,
                 namespace_deletion_delay: float = 0.5, workloads: controllers.Workloads | None = None):
        self.registry = registry
        self.store = store
        self.builtin = builtin
        self.ips = defaults.ClusterIPAllocator()
        # Like the namespace controller, empty and remove a deleted namespace
        # a moment later (0: synchronously, within the DELETE request).
        self.namespace_deletion_delay = namespace_deletion_delay
        self._timers: list[threading.Timer] = []
        self._crd_schemas: dict[tuple[str | None, str], tuple[dict | None, KindSchema]] = {}
        # Workloads held unready (controllers.Workloads) and the ones stored held, whose status
        # changes by itself when their time is up (refresh_workloads).
        self.workloads = workloads or controllers.Workloads()
        self._held: dict[tuple[Any, str, str], ResourceType] = {}

    # -- schema lookup ------------------------------------------------------------

    def schema_for(self, rtype: ResourceType) -> KindSchema | None:
        """Compiled schema of a type; cached per kind (per CRD for custom resources)."""
        if not rtype.is_custom:
            return self.builtin.get(rtype.api_version, rtype.kind)
        # Keyed by the CRD version's schema dict: a CRD update registers new
        # types with new dicts, so the next request compiles the new schema once.
        key = (rtype.crd_name, rtype.version)
        cached = self._crd_schemas.get(key)
        if cached is None or cached[0] is not rtype.openapi_schema:
            cached = (rtype.openapi_schema, crd_kind_schema(
                rtype.kind, rtype.api_version, rtype.openapi_schema, self.builtin.object_meta))
            self._crd_schemas[key] = cached
        return cached[1]

    # -- dispatch -----------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        self.refresh_workloads()
        self._check_query(req)
        sub = req.subresource
        if sub in ("log", "exec"):
            return self._pod_subresource(req)
        if sub is not None and sub not in req.rtype.subresources:
            raise errors.unknown_path()
        if sub == "scale":
            return self._scale(req)
        if req.name is None:
            if req.method == "GET":
                return self.watch(req) if _truthy(req.query.get("watch")) else self.list(req)
            if req.method == "POST":
                return self.create(req)
            if req.method == "DELETE":
                return self.delete_collection(req)
        else:
            if req.method == "GET":
                return Response(200, self._present(self._get_or_404(req), req.rtype))
            if req.method == "PUT":
                return self.update(req)
            if req.method == "PATCH":
                return self.patch(req)
            if req.method == "DELETE" and sub is None:
                return self.delete(req)
        raise errors.method_not_allowed()

    @staticmethod
    def _check_query(req: Request) -> None:
        dry = req.query.get("dryRun")
        if dry not in (None, "", "All"):
            raise errors.ApiError(400, "BadRequest", f'dryRun: Unsupported value: "{dry}": supported values: "All"')
        fv = req.query.get("fieldValidation")
        if fv not in (None, "", "Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation: invalid fieldValidation directive {fv!r}, "
                                     f"must be one of Ignore, Warn or Strict")

    def refresh_workloads(self) -> None:
        """Held workloads whose time is up (or that were released) get the status of a ready
        one, as their controller would write it: stored with a new resourceVersion."""
        if not self._held:
            return
        with self.store.lock:
            for key, rtype in list(self._held.items()):
                obj = self.store.get(*key)
                if obj is None:
                    del self._held[key]
                    continue
                before = obj.get("status")
                state = controllers.reconcile_status(rtype.group, rtype.kind, obj, before, self.workloads)
                if state == controllers.HELD:
                    continue
                del self._held[key]
                if obj.get("status") == before:
                    continue
                obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
                self.store.put(rtype.store_key, obj, "MODIFIED")

    # -- reads --------------------------------------------------------------------

    def _get_or_404(self, req: Request) -> dict:
        obj = self.store.get(req.rtype.store_key, req.namespace or "", req.name or "")
        if obj is None:
            raise errors.not_found(req.rtype.plural, req.rtype.group, req.name or "")
        return obj

    @staticmethod
    def _present(obj: dict, rtype: ResourceType) -> dict:
        """Serve an object at the requested version (CRD versions share storage; no conversion)."""
        obj["apiVersion"] = rtype.api_version
        return obj

    def _matcher(self, req: Request):
        labels = selectors.parse_label_selector(req.query.get("labelSelector"))
        fields = selectors.parse_field_selector(req.query.get("fieldSelector"))
        return lambda obj: labels(obj) and fields(obj)

    def list(self, req: Request) -> Response:
        match = self._matcher(req)
        with self.store.lock:
            items = [self._present(o, req.rtype)
                     for o in self.store.list(req.rtype.store_key, req.namespace) if match(o)]
            rv = self.store.resource_version
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        start = 0
        if req.query.get("continue"):
            try:
                start = int(json.loads(base64.b64decode(req.query["continue"]))["start"])
            except Exception:
                raise errors.bad_request("continue key is not valid") from None
        limit = int(req.query.get("limit") or 0)
        if limit > 0 and start + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
            items = items[start:start + limit]
        else:
            items = items[start:]
        return Response(200, {"kind": f"{req.rtype.kind}List", "apiVersion": req.rtype.api_version,
                              "metadata": meta, "items": items})

    def watch(self, req: Request) -> Response:
        """``?watch=1``: initial ADDED events (unless resuming), then changes until timeout."""
        match = self._matcher(req)
        timeout = float(req.query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        since_param = req.query.get("resourceVersion") or "0"
        with self.store.lock:
            if since_param != "0":
                since = int(since_param)
                if since < self.store.oldest_watchable():
                    raise errors.gone(f"too old resource version: {since} ({self.store.oldest_watchable()})")
                initial: list[dict] = []
            else:
                since = self.store.resource_version
                initial = [o for o in self.store.list(req.rtype.store_key, req.namespace) if match(o)]
        rtype = req.rtype

        def stream() -> Iterator[dict]:
            for obj in initial:
                yield {"type": "ADDED", "object": self._present(obj, rtype)}
            for event in self.store.events_since(rtype.store_key, req.namespace, since, deadline,
                                                 lambda e: match(e.object)):
                if event is None:
                    yield None  # idle tick
                else:
                    yield {"type": event.type, "object": self._present(copy.deepcopy(event.object), rtype)}

        return Response(200, stream=stream())

    # -- writes: entry points -----------------------------------------------------

    def create(self, req: Request) -> Response:
        obj, dups = self._decode_object(req)
        with self.store.lock:
            meta = obj["metadata"]
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            req.name = meta.get("name") or ""
            self._require_namespace(req)
            if req.name and self.store.get(req.rtype.store_key, req.namespace or "", req.name):
                raise errors.already_exists(req.rtype.plural, req.rtype.group, req.name)
            warnings = self._field_validation(req, obj, dups)
            new = self._admit(req, None, obj, track_manager=True)
            return self._persist(req, None, new, warnings, created=True)

    def update(self, req: Request) -> Response:
        obj, dups = self._decode_object(req)
        with self.store.lock:
            old = self._get_or_404(req)
            self._check_resource_version(req, obj, old)
            warnings = self._field_validation(req, obj, dups)
            new = self._admit(req, old, obj, track_manager=True)
            return self._persist(req, old, new, warnings)

    def patch(self, req: Request) -> Response:
        ctype = req.content_type.split(";")[0].strip()
        if ctype == PATCH_APPLY:
            return self._apply(req)
        if ctype not in (PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC):
            raise errors.unsupported_media_type(ctype)
        if ctype == PATCH_STRATEGIC and req.rtype.is_custom:
            raise errors.unsupported_media_type(ctype)
        body, dups = decode_body(req.body, "json")
        with self.store.lock:
            old = self._get_or_404(req)
            if ctype == PATCH_JSON:
                patched = patch.json_patch(old, body)
            elif ctype == PATCH_MERGE:
                if not isinstance(body, dict):
                    raise errors.bad_request("merge patch body must be a JSON object")
                patched = patch.merge_patch(old, body)
            else:
                schema = self.schema_for(req.rtype)
                patched = patch.strategic_merge_patch(old, body, schema.root if schema else ANY)
            if not isinstance(patched, dict):
                raise errors.ApiError(422, "Invalid", "patched object is not a JSON object")
            self._check_identity(req, patched)
            self._check_resource_version(req, patched, old)
            warnings = self._field_validation(req, patched, dups)
            new = self._admit(req, old, patched, track_manager=True)
            return self._persist(req, old, new, warnings)

    def _apply(self, req: Request) -> Response:
        """Server-side apply (``application/apply-patch+yaml``)."""
        manager = req.query.get("fieldManager")
        if not manager:
            raise errors.ApiError(
                422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                'is required for apply patch',
                {"kind": "PatchOptions", "group": "meta.k8s.io",
                 "causes": [errors.cause("fieldManager", "Required value: is required for apply patch",
                                         "FieldValueRequired")]})
        applied, dups = decode_body(req.body, "yaml")
        if not isinstance(applied, dict):
            raise errors.bad_request("apply patch body must be an object")
        for key in ("apiVersion", "kind"):
            if not applied.get(key):
                raise errors.bad_request(f"invalid object: {key} must be set for apply")
        self._check_gvk(req, applied)
        applied.setdefault("metadata", {})
        self._check_identity(req, applied)
        with self.store.lock:
            old = self.store.get(req.rtype.store_key, req.namespace or "", req.name or "")
            if old is None:
                self._require_namespace(req)
            warnings = self._field_validation(req, applied, dups)
            schema = self.schema_for(req.rtype)
            on_status = req.subresource == "status"
            merged = ssa.server_side_apply(
                old, applied, schema.root if schema else ANY, manager,
                _truthy(req.query.get("force")), req.rtype.api_version,
                include_status=on_status or not req.rtype.has_status, plural=req.rtype.plural,
                group=req.rtype.group)
            merged.setdefault("apiVersion", req.rtype.api_version)
            merged.setdefault("kind", req.rtype.kind)
            new = self._admit(req, old, merged, track_manager=False)
            return self._persist(req, old, new, warnings, created=old is None)

    # -- writes: pipeline ---------------------------------------------------------

    def _decode_object(self, req: Request) -> tuple[dict, list[str]]:
        obj, dups = decode_body(req.body, req.content_type)
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        self._check_gvk(req, obj)
        obj.setdefault("apiVersion", req.rtype.api_version)
        obj.setdefault("kind", req.rtype.kind)
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        self._check_identity(req, obj)
        return obj, dups

    @staticmethod
    def _check_gvk(req: Request, obj: dict) -> None:
        rtype = req.rtype
        if obj.get("kind") and obj["kind"] != rtype.kind:
            raise errors.bad_request(f"the kind in the data ({obj['kind']}) does not match the expected kind "
                                     f"({rtype.kind})")
        api_version = obj.get("apiVersion")
        if api_version and api_version != rtype.api_version:
            group = api_version.rpartition("/")[0]
            if group != rtype.group:
                raise errors.bad_request(f"the API version in the data ({api_version}) does not match the "
                                         f"expected API version ({rtype.api_version})")

    @staticmethod
    def _check_identity(req: Request, obj: dict) -> None:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        ns = meta.get("namespace")
        if req.rtype.namespaced:
            if ns and req.namespace and ns != req.namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            if req.namespace is None:
                raise errors.unknown_path()
            meta["namespace"] = req.namespace
        else:
            meta.pop("namespace", None)
        if req.name is not None and meta.get("name") and meta["name"] != req.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on "
                                     f"the URL ({req.name})")
        if req.name is not None and req.method != "POST":
            meta["name"] = req.name

    @staticmethod
    def _check_resource_version(req: Request, obj: dict, old: dict) -> None:
        """A ``metadata.resourceVersion`` in an update is an optimistic-concurrency precondition."""
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"].get("resourceVersion"):
            raise errors.conflict(req.rtype.plural, req.rtype.group, req.name or "",
                                  "the object has been modified; please apply your changes to the "
                                  "latest version and try again")

    def _require_namespace(self, req: Request) -> None:
        """Namespaced creates need an existing, non-terminating namespace (NamespaceLifecycle)."""
        if not req.rtype.namespaced:
            return
        namespace = self.store.get(NAMESPACES, "", req.namespace or "")
        if namespace is None:
            raise errors.not_found("namespaces", "", req.namespace or "")
        if namespace["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403, "Forbidden", f'{req.rtype.qualified()} "{req.name}" is forbidden: unable to create new '
                f"content in namespace {req.namespace} because it is being terminated",
                {"name": req.name, "group": req.rtype.group, "kind": req.rtype.plural})

    def _field_validation(self, req: Request, obj: dict, duplicates: list[str]) -> list[str]:
        """Unknown and duplicate fields per ``fieldValidation`` (default Warn); prunes ``obj``."""
        directive = req.query.get("fieldValidation") or "Warn"
        schema = self.schema_for(req.rtype)
        unknown = prune_unknown(obj, schema.root, apply_defaults=schema.structural) if schema else []
        problems = [f'duplicate field "{d}"' for d in duplicates] + [f'unknown field "{u}"' for u in unknown]
        if not problems or directive == "Ignore":
            return []
        if directive == "Strict":
            causes = ([errors.cause(d, f'duplicate field "{d}"', "FieldValueDuplicate") for d in duplicates]
                      + [errors.cause(u, f'unknown field "{u}"', "FieldValueInvalid") for u in unknown])
            name = (obj.get("metadata") or {}).get("name") or req.name or ""
            raise errors.invalid(req.rtype.kind, req.rtype.group, name, causes)
        return problems

    def _admit(self, req: Request, old: dict | None, new: dict, track_manager: bool) -> dict:
        """Normalise, default, validate and complete ``new`` (see module docstring)."""
        rtype = req.rtype
        meta = new["metadata"]
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        on_status = req.subresource == "status"
        if old is not None:
            if on_status:
                # Status writes change only status (ResetObjectMetaForStatus + spec reset).
                status = new.get("status")
                new = copy.deepcopy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
                meta = new["metadata"]
            for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
                else:
                    meta.pop(key, None)
        else:
            for key in ("uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp"):
                meta.pop(key, None)
        if track_manager:
            meta.pop("managedFields", None)
            if old is not None and old["metadata"].get("managedFields"):
                meta["managedFields"] = old["metadata"]["managedFields"]
        if rtype.has_status and not on_status:
            if old is not None and "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

        defaults.apply_defaults(rtype.group, rtype.kind, new, old, self.ips)
        self._validate(rtype, old, new)

        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
        elif _spec_part(new) != _spec_part(old):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        if not on_status:
            controllers.reconcile_status(rtype.group, rtype.kind, new, (old or {}).get("status"), self.workloads)
        if track_manager and not on_status:
            schema = self.schema_for(rtype)
            node = schema.root if schema else ANY
            include_status = not rtype.has_status
            managed = ManagedFields(meta.get("managedFields"))
            managed.record_update(
                req.query.get("fieldManager") or manager_from_user_agent(req.user_agent),
                rtype.api_version, field_values(old, node, include_status) if old else {},
                field_values(new, node, include_status))
            meta["managedFields"] = managed.serialise(meta.get("managedFields"))
            if not meta["managedFields"]:
                del meta["managedFields"]
        return new

    def _validate(self, rtype: ResourceType, old: dict | None, new: dict) -> None:
        meta = new["metadata"]
        name = meta.get("name") or ""
        spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
        plural_group = None
        if rtype.store_key == CRDS:
            plural_group = f'{(spec.get("names") or {}).get("plural")}.{spec.get("group")}'
        causes = validation.validate_name(rtype.kind, name, plural_group)
        causes += validation.validate_metadata(meta)
        if not rtype.is_custom:
            causes += validation.validate_enums(rtype.kind, new)
        if rtype.kind in ("ConfigMap", "Secret") and not rtype.group:
            causes += validation.validate_data_keys(new)
        schema = self.schema_for(rtype)
        if schema is not None:
            causes += schema.errors(new)
        if not rtype.is_custom:
            causes += validation.validate_object(rtype.kind, new, old, schema.root if schema else None)
        if old is not None:
            causes += validation.validate_update(rtype.kind, old, new)
        if causes:
            raise errors.invalid(rtype.kind, rtype.group, name, _merge_causes(causes))

    def _persist(self, req: Request, old: dict | None, new: dict, warnings: list[str],
                 created: bool = False) -> Response:
        rtype = req.rtype
        if old is not None and _comparable(old) == _comparable(new):
            return Response(200, self._present(old, rtype), warnings)
        if req.dry_run:
            if old is not None:
                new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return Response(201 if created else 200, self._present(new, rtype), warnings)
        new["metadata"]["resourceVersion"] = str(self.store.next_rv())
        stored = self.store.put(rtype.store_key, new, "ADDED" if old is None else "MODIFIED")
        if rtype.kind in controllers.WORKLOAD_KINDS and self.workloads.state(rtype.kind, new) == controllers.HELD:
            self._held[(rtype.store_key, new["metadata"].get("namespace") or "", new["metadata"]["name"])] = rtype
        if rtype.store_key == CRDS:
            self.registry.register_crd(stored)
        return Response(201 if created else 200, self._present(stored, rtype), warnings)

    # -- delete -------------------------------------------------------------------

    def _delete_options(self, req: Request) -> dict:
        options: dict = {}
        if req.body.strip():
            body, _ = decode_body(req.body, req.content_type or "json")
            options = body if isinstance(body, dict) else {}
        policy = req.query.get("propagationPolicy") or options.get("propagationPolicy")
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise errors.bad_request(f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                                     f'"Foreground", "Background", "Orphan"')
        if "All" in (options.get("dryRun") or []):
            req.query["dryRun"] = "All"  # DeleteOptions in the body may ask for dry run too
        return options

    def delete(self, req: Request) -> Response:
        options = self._delete_options(req)
        with self.store.lock:
            old = self._get_or_404(req)
            pre = options.get("preconditions") or {}
            for key in ("uid", "resourceVersion"):
                if pre.get(key) and pre[key] != old["metadata"].get(key):
                    raise errors.conflict(req.rtype.plural, req.rtype.group, req.name or "",
                                          f"Precondition failed: {key}: {pre[key]}, "
                                          f"{key} in object meta: {old['metadata'].get(key)}")
            if req.dry_run:
                return Response(200, self._present(old, req.rtype))
            if req.rtype.store_key == NAMESPACES:
                return Response(200, self._present(self._terminate_namespace(old), req.rtype))
            gone = self._remove(req.rtype, old)
        if req.rtype.kind == "Pod" and not req.rtype.group:
            return Response(200, self._present(gone, req.rtype))
        return Response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": {"name": req.name, "group": req.rtype.group,
                                          "kind": req.rtype.plural, "uid": old["metadata"].get("uid")}})

    def _terminate_namespace(self, namespace: dict) -> dict:
        """Mark a namespace Terminating; its contents and it go after the deletion delay."""
        meta = namespace["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now()
            meta["deletionGracePeriodSeconds"] = 0
            namespace.setdefault("status", {})["phase"] = "Terminating"
            meta["resourceVersion"] = str(self.store.next_rv())
            namespace = self.store.put(NAMESPACES, namespace, "MODIFIED")
        if self.namespace_deletion_delay <= 0:
            self._finalize_namespace(meta["name"], meta["uid"])
        else:
            timer = threading.Timer(self.namespace_deletion_delay, self._finalize_namespace,
                                    (meta["name"], meta["uid"]))
            timer.daemon = True
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
            timer.start()
        return namespace

    def _finalize_namespace(self, name: str, uid: str) -> None:
        ns_type = self.registry.lookup("", "v1", "namespaces")
        with self.store.lock:
            namespace = self.store.get(NAMESPACES, "", name)
            if namespace is not None and namespace["metadata"].get("uid") == uid and ns_type is not None:
                self._remove(ns_type, namespace)

    def stop(self) -> None:
        """Cancel pending namespace finalizations (the emulator is going away)."""
        for timer in self._timers:
            timer.cancel()

    def _remove(self, rtype: ResourceType, obj: dict) -> dict:
        """Delete one object with the real server's cascades (namespace contents, CRD objects)."""
        meta = obj["metadata"]
        if rtype.store_key == NAMESPACES:
            for key in self.store.namespaces_in_use(meta["name"]):
                for child in self.store.list(key, meta["name"]):
                    self.store.remove(key, meta["name"], child["metadata"]["name"])
        if rtype.store_key == CRDS:
            spec = obj.get("spec") or {}
            key = (spec.get("group"), (spec.get("names") or {}).get("plural"))
            for child in self.store.list(key):  # type: ignore[arg-type]
                self.store.remove(key, child["metadata"].get("namespace", ""), child["metadata"]["name"])  # type: ignore[arg-type]
            self.registry.unregister_crd(meta["name"])
        return self.store.remove(rtype.store_key, meta.get("namespace", ""), meta["name"]) or obj

    def delete_collection(self, req: Request) -> Response:
        self._delete_options(req)
        match = self._matcher(req)
        with self.store.lock:
            victims = [o for o in self.store.list(req.rtype.store_key, req.namespace) if match(o)]
            if not req.dry_run:
                victims = [self._remove(req.rtype, o) for o in victims]
        return Response(200, {"kind": f"{req.rtype.kind}List", "apiVersion": req.rtype.api_version,
                              "metadata": {"resourceVersion": str(self.store.resource_version)},
                              "items": [self._present(v, req.rtype) for v in victims]})

    # -- subresources -------------------------------------------------------------

    def _scale(self, req: Request) -> Response:
        """``autoscaling/v1 Scale`` view of ``spec.replicas`` (GET/PUT/PATCH)."""
        with self.store.lock:
            obj = self._get_or_404(req)
            scale = _scale_of(obj)
            if req.method == "GET":
                return Response(200, scale)
            body, _ = decode_body(req.body, "json")
            ctype = req.content_type.split(";")[0].strip()
            if req.method == "PUT":
                new_scale = body
            elif req.method == "PATCH" and ctype == PATCH_JSON:
                new_scale = patch.json_patch(scale, body)
            elif req.method == "PATCH" and ctype in (PATCH_MERGE, PATCH_STRATEGIC):
                new_scale = patch.merge_patch(scale, body)
            else:
                raise errors.method_not_allowed()
            replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid("Scale", "autoscaling", req.name or "", [errors.cause(
                    "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")])
            updated = copy.deepcopy(obj)
            updated.setdefault("spec", {})["replicas"] = replicas
            main = Request("PATCH", req.rtype, req.namespace, req.name, None, req.query, b"",
                           req.content_type, req.user_agent)
            new = self._admit(main, obj, updated, track_manager=True)
            result = self._persist(main, obj, new, [])
            return Response(200, _scale_of(result.body))

    def _pod_subresource(self, req: Request) -> Response:
        if req.rtype.store_key != ("", "pods"):
            raise errors.unknown_path()
        self._get_or_404(req)
        if req.subresource == "log":
            if req.method != "GET":
                raise errors.method_not_allowed()
            return Response(200, "", content_type="text/plain")
        raise errors.bad_request("exec is not supported by the Kubernetes API emulator "
                                 "(no container runtime behind it)")


def _scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": replicas},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", replicas),
                       "selector": ",".join(f"{k}={v}" for k, v in selector.items())}}


def _merge_causes(causes: list[dict]) -> list[dict]:
    """Drop repeats: the schema and a Go rule may report the same problem, and a Go
    rule's ``Required value: <why>`` says more than the schema's bare ``Required value``."""
    unique = {(c["field"], c["message"]): c for c in causes}
    explained = {c["field"] for c in unique.values() if c["message"].startswith("Required value: ")}
    return [c for c in unique.values() if not (c["message"] == "Required value" and c["field"] in explained)]


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def _spec_part(obj: dict) -> Any:
    """What ``metadata.generation`` tracks: ``spec``, or all but metadata/status."""
    if "spec" in obj:
        return obj["spec"]
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _comparable(obj: dict) -> dict:
    """The object minus what a no-op write may differ in (resourceVersion, managedFields times)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    if meta.get("managedFields"):
        meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in meta["managedFields"]]
    out["metadata"] = meta
    out.pop("apiVersion", None)
    return out
