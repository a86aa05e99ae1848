"""Schemas: validation, unknown-field pruning, defaulting and patch metadata.

Two sources of schemas, one interface (:class:`KindSchema`):

* **Built-in kinds** use the JSON schemas shipped by the ``kubernetes_validate``
  package (generated from the upstream OpenAPI document of each Kubernetes
  minor version).  They are loaded with the package's own helpers
  (``schema_contents``/``all_versions``) and ``$ref`` resolution is done by the
  same ``referencing`` registry construction that ``kubernetes_validate.validate``
  uses; the difference is that compiled validators are cached per
  (version, kind) instead of re-reading a 1.3 MB definitions file per call.
  We use the ``-strict`` flavour, where every typed struct is closed
  (``additionalProperties: false``), which tells us which fields are unknown.

* **Custom resources** use their CRD's ``openAPIV3Schema`` for the served
  version.  OpenAPI v3 ``nullable`` is translated to a JSON-schema ``null``
  type and the schema is validated with a Draft 4 validator (OpenAPI 3.0
  schemas are Draft-4 flavoured, e.g. boolean ``exclusiveMinimum``).

Besides the jsonschema validator, each schema is compiled into a tree of
:class:`Node` objects (lazily, so recursive definitions are fine).  The tree
mirrors what the real server derives from the same OpenAPI data:

* which fields are unknown (for ``fieldValidation`` and CRD pruning), honouring
  ``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-embedded-resource``
  and ``x-kubernetes-int-or-string``;
* ``default`` values of CRD schemas (structural defaulting);
* strategic-merge-patch metadata (``x-kubernetes-patch-merge-key`` /
  ``x-kubernetes-patch-strategy``);
* server-side-apply list/map semantics (``x-kubernetes-list-type``,
  ``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``).
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from typing import Any, Callable, Iterator

import jsonschema
import referencing
import referencing.jsonschema
from kubernetes_validate import utils as kv_utils

SUPPORTED_MIN = (1, 25)


def _vtuple(version: str) -> tuple[int, int]:
    major, minor = kv_utils.major_minor(version.lstrip("v")).split(".")[:2]
    return int(major), int(minor)


def resolve_schema_version(kube_version: str) -> str:
    """Map ``1.31``/``v1.31.2`` to the newest shipped schema set not newer than it.

    Same rule as ``kubernetes_validate.validate``; raises ``ValueError`` for
    versions outside what the package ships.
    """
    wanted = _vtuple(kube_version)
    shipped = [v for v in kv_utils.all_versions() if _vtuple(v) <= wanted]
    if wanted < SUPPORTED_MIN or not shipped or wanted > _vtuple(kv_utils.latest_version()):
        raise ValueError(
            f"unsupported kube version {kube_version!r}: kubernetes_validate ships "
            f"{kv_utils.all_versions()[0]}..{kv_utils.latest_version()}")
    return shipped[-1]


# --------------------------------------------------------------------------- nodes


class Node:
    """One compiled schema position (see module docstring).

    ``shape`` is one of ``struct`` (known properties, closed), ``map``
    (``additionalProperties`` schema), ``array``, ``scalar`` or ``any``
    (free-form: anything goes and nothing below is pruned).
    """

    __slots__ = ("shape", "_props_raw", "_props", "_compile", "additional", "items",
                 "patch_strategy", "merge_key", "list_type", "list_map_keys", "map_type",
                 "embedded", "default", "implicit", "quantity", "key_defaults")

    def __init__(self) -> None:
        self.shape = "any"
        self._props_raw: dict[str, Any] = {}
        self._props: dict[str, Node] = {}
        self._compile: Callable[[Any], Node] | None = None
        self.additional: Node | None = None
        self.items: Node | None = None
        self.patch_strategy = ""
        self.merge_key: str | None = None
        self.list_type: str | None = None
        self.list_map_keys: tuple[str, ...] = ()
        self.map_type: str | None = None
        self.embedded = False
        self.default: Any = None
        self.implicit: dict[str, Node] = {}
        self.quantity = False  # a resource.Quantity (checked by validation.quantity_errors)
        self.key_defaults: dict[str, Any] = {}  # list-map key fields the server defaults

    def child(self, key: str) -> "Node | None":
        """Schema of property ``key``; None if the field is unknown here."""
        if self.shape == "struct":
            node = self.implicit.get(key) or self._props.get(key)
            if node is None:
                raw = self._props_raw.get(key)
                if raw is None:
                    return self.additional  # None unless unknown fields are preserved
                node = self._props[key] = self._compile(raw)
            return node
        if self.shape == "map":
            return self.additional
        if self.shape == "any":
            return ANY
        return None

    def properties(self) -> Iterator[tuple[str, "Node"]]:
        for key in self._props_raw:
            yield key, self.child(key)

    def with_overrides(self, **attrs: Any) -> "Node":
        clone = Node()
        for slot in Node.__slots__:
            setattr(clone, slot, getattr(self, slot))
        for key, value in attrs.items():
            setattr(clone, key, value)
        return clone


ANY = Node()


def _types(raw: dict) -> set[str]:
    t = raw.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t)


class _Compiler:
    """Compile raw schema dicts to :class:`Node` trees, memoised by identity.

    ``structural`` selects CRD rules: an ``object`` with neither
    ``properties`` nor ``additionalProperties`` is empty (everything below is
    pruned) unless ``x-kubernetes-preserve-unknown-fields`` is set.  For
    built-in schemas such an object is free-form (``RawExtension``).
    """

    def __init__(self, resolve: Callable[[dict], tuple[dict, "_Compiler"]] | None,
                 structural: bool):
        self._resolve = resolve
        self._structural = structural
        self._memo: dict[int, Node] = {}
        self._keep: list[Any] = []  # keep ids stable

    def compile(self, raw: Any) -> Node:
        if not isinstance(raw, dict):
            return ANY
        key = id(raw)
        node = self._memo.get(key)
        if node is not None:
            return node
        self._keep.append(raw)
        if "$ref" in raw and self._resolve is not None:
            target, compiler = self._resolve(raw)
            base = compiler.compile(target)
            node = base.with_overrides(**self._extensions(raw))
            if raw["$ref"].endswith(QUANTITY_REF):
                node.quantity = True
        else:
            node = self._build(raw)
        self._memo[key] = node
        return node

    @staticmethod
    def _extensions(raw: dict) -> dict[str, Any]:
        """Node attributes taken from ``x-kubernetes-*`` extensions and ``default``."""
        ext: dict[str, Any] = {}
        if "x-kubernetes-patch-strategy" in raw:
            ext["patch_strategy"] = raw["x-kubernetes-patch-strategy"]
        if "x-kubernetes-patch-merge-key" in raw:
            ext["merge_key"] = raw["x-kubernetes-patch-merge-key"]
        if "x-kubernetes-list-type" in raw:
            ext["list_type"] = raw["x-kubernetes-list-type"]
        if "x-kubernetes-list-map-keys" in raw:
            ext["list_map_keys"] = tuple(raw["x-kubernetes-list-map-keys"])
        if "x-kubernetes-map-type" in raw:
            ext["map_type"] = raw["x-kubernetes-map-type"]
        if "default" in raw:
            ext["default"] = raw["default"]
        return ext

    def _build(self, raw: dict) -> Node:
        node = Node()
        node._compile = self.compile
        for attr, value in self._extensions(raw).items():
            setattr(node, attr, value)
        types = _types(raw)
        if raw.get("x-kubernetes-int-or-string"):
            node.shape = "scalar"
        elif raw.get("x-kubernetes-preserve-unknown-fields") and "properties" not in raw:
            node.shape = "any"
        elif "properties" in raw or (self._structural and "object" in types
                                     and not isinstance(raw.get("additionalProperties"), dict)
                                     and raw.get("additionalProperties") is not True):
            node.shape = "struct"
            node._props_raw = raw.get("properties") or {}
            if raw.get("x-kubernetes-preserve-unknown-fields"):
                node.additional = ANY  # declared fields typed, anything else kept
        elif isinstance(raw.get("additionalProperties"), dict):
            node.shape = "map"
            node.additional = self.compile(raw["additionalProperties"])
        elif "array" in types or "items" in raw:
            node.shape = "array"
            node.items = self.compile(raw.get("items", {}))
            if node.list_map_keys:
                node.key_defaults = _key_defaults(raw.get("items", {}), node.items, node.list_map_keys)
        elif types and not types & {"object", "array"}:
            node.shape = "scalar"
        elif "oneOf" in raw or "anyOf" in raw:
            # IntOrString / Quantity style unions of scalars.
            branches = raw.get("oneOf") or raw.get("anyOf")
            if all(_types(b) and not _types(b) & {"object", "array"} for b in branches if isinstance(b, dict)):
                node.shape = "scalar"
        if raw.get("x-kubernetes-embedded-resource"):
            node.embedded = True
            node.implicit = {"apiVersion": SCALAR, "kind": SCALAR, "metadata": ANY}
            if node.shape != "struct":
                node.shape = "any"
        return node


SCALAR = Node()
SCALAR.shape = "scalar"

QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"

#: Defaults of list-map key fields of built-in types (the published schemas carry no
#: ``default`` for them).  The server defaults an applied item's key fields before it
#: merges the list, so ``{port: 80}`` and a stored ``{port: 80, protocol: TCP}`` are
#: the same element.
BUILTIN_KEY_DEFAULTS: dict[str, dict[str, Any]] = {
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.EndpointPort": {"protocol": "TCP"},
}


def _key_defaults(items_raw: Any, items: Node, keys: tuple[str, ...]) -> dict[str, Any]:
    """Defaults of the key fields of a list-map's items: the built-in table, else the
    item schema's ``default`` (custom resources)."""
    out: dict[str, Any] = {}
    ref = items_raw.get("$ref", "") if isinstance(items_raw, dict) else ""
    for name, value in BUILTIN_KEY_DEFAULTS.items():
        if ref.endswith("/" + name):
            out.update(value)
    for key in keys:
        child = items.child(key) if items.shape == "struct" else None
        if key not in out and child is not None and child.default is not None:
            out[key] = child.default
    return out


# ------------------------------------------------------------------ field walking


def prune_unknown(obj: Any, node: Node, path: str = "", found: list[str] | None = None,
                  apply_defaults: bool = False) -> list[str]:
    """Remove fields the schema does not declare, in place; return their paths.

    Mirrors the decoder's unknown-field detection for built-in kinds and
    structural pruning for custom resources.  With ``apply_defaults`` the
    ``default`` of each missing declared property is filled in (CRD
    structural defaulting).
    """
    if found is None:
        found = []
    if node is ANY or obj is None:
        return found
    if isinstance(obj, dict):
        if node.shape == "struct":
            for key in list(obj):
                child = node.child(key)
                if child is None:
                    if node.additional is ANY:
                        continue
                    found.append(_join(path, key))
                    del obj[key]
                else:
                    prune_unknown(obj[key], child, _join(path, key), found, apply_defaults)
            if apply_defaults:
                for key, child in node.properties():
                    if key not in obj and child.default is not None:
                        obj[key] = copy.deepcopy(child.default)
        elif node.shape == "map" and node.additional is not None:
            for key, value in obj.items():
                prune_unknown(value, node.additional, _join(path, key), found, apply_defaults)
    elif isinstance(obj, list) and node.shape == "array" and node.items is not None:
        for i, item in enumerate(obj):
            prune_unknown(item, node.items, f"{path}[{i}]", found, apply_defaults)
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------- kind schemas


class KindSchema:
    """Everything the server needs to know about one kind's schema."""

    def __init__(self, kind: str, api_version: str, root: Node,
                 validator: jsonschema.protocols.Validator, structural: bool):
        self.kind = kind
        self.api_version = api_version
        self.root = root
        self.validator = validator
        self.structural = structural  # custom resource: prune + default

    def errors(self, obj: dict) -> list[dict[str, str]]:
        """Validate ``obj``; return ``details.causes``-style dicts (empty if valid)."""
        causes = []
        seen = set()
        for err in self.validator.iter_errors(obj):
            for cause in _error_causes(err):
                key = (cause["field"], cause["message"])
                if key not in seen:
                    seen.add(key)
                    causes.append(cause)
        causes.sort(key=lambda c: c["field"])
        return causes[:20]


def _field_path(parts: Iterator[Any]) -> str:
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, str(part))
    return out


def _json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _error_causes(err: jsonschema.ValidationError) -> list[dict[str, str]]:
    path = _field_path(err.absolute_path)
    kw = err.validator
    if kw == "required":
        return [{"reason": "FieldValueRequired", "message": "Required value",
                 "field": _join(path, name)}
                for name in err.validator_value
                if isinstance(err.instance, dict) and name not in err.instance]
    if kw == "additionalProperties":
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        return [{"reason": "FieldValueInvalid", "message": f'unknown field "{_join(path, k)}"',
                 "field": _join(path, k)} for k in extra]
    if kw == "type":
        expected = [t for t in ([err.validator_value] if isinstance(err.validator_value, str)
                                else err.validator_value) if t != "null"]
        return [{"reason": "FieldValueTypeInvalid",
                 "message": f"Invalid value: {_json(err.instance)}: {path} in body must be of type "
                            f"{' or '.join(expected)}: \"{_json_type(err.instance)}\"",
                 "field": path}]
    if kw == "enum":
        allowed = ", ".join(_json(v) for v in err.validator_value if v is not None)
        return [{"reason": "FieldValueNotSupported",
                 "message": f"Unsupported value: {_json(err.instance)}: supported values: {allowed}",
                 "field": path}]
    if kw in ("oneOf", "anyOf") and err.context:
        # Report the most specific sub-error of the closest branch.
        best = jsonschema.exceptions.best_match(err.context)
        if best is not None and best.validator != kw:
            sub = _error_causes(best)
            if sub:
                return sub
    return [{"reason": "FieldValueInvalid",
             "message": f"Invalid value: {_json(err.instance)}: {err.message}",
             "field": path}]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("int32")
def _int32(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31


@_FORMATS.checks("int64")
def _int64(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


class BuiltinSchemas:
    """Schemas of the built-in kinds for one Kubernetes minor version (cached)."""

    _shared: dict[str, "BuiltinSchemas"] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, kube_version: str) -> "BuiltinSchemas":
        """One instance per schema version per process: compiled validators are reused
        by every emulator (they are immutable once built)."""
        version = resolve_schema_version(kube_version)
        with cls._shared_lock:
            if version not in cls._shared:
                cls._shared[version] = cls(version)
            return cls._shared[version]

    def __init__(self, kube_version: str):
        self.version = resolve_schema_version(kube_version)
        self._dir = f"kubernetes-json-schema/v{self.version}-local-strict"
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], KindSchema | None] = {}
        defs = kv_utils.schema_contents(f"{self._dir}/_definitions.json", self.version)
        self._definitions = referencing.Resource.from_contents(defs)
        self._registry = self._definitions @ referencing.Registry()
        self._compiler = _Compiler(self._resolver_for(self._registry.resolver(defs["$id"])),
                                   structural=False)
        self._defs_uri = defs["$id"]

    def _resolver_for(self, resolver: referencing._core.Resolver):
        def resolve(raw: dict) -> tuple[dict, _Compiler]:
            resolved = resolver.lookup(raw["$ref"])
            return resolved.contents, self._compiler
        return resolve

    def definition(self, name: str) -> Node:
        """Compiled node of a ``$defs`` entry, e.g. ``io.k8s...ObjectMeta``."""
        return self._compiler.compile(self._definitions.contents["$defs"][name])

    @functools.cached_property
    def object_meta(self) -> Node:
        return self.definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")

    def get(self, api_version: str, kind: str) -> KindSchema | None:
        key = (api_version, kind)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._load(api_version, kind)
            return self._cache[key]

    def _load(self, api_version: str, kind: str) -> KindSchema | None:
        # Same file naming as kubernetes_validate.validate():
        # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1.
        suffix = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = kv_utils.schema_contents(f"{self._dir}/{kind.lower()}-{suffix}.json",
                                              self.version)
        except FileNotFoundError:
            return None
        resource = referencing.Resource.from_contents(schema)
        registry = resource @ self._registry
        validator = jsonschema.Draft202012Validator(schema, registry=registry,
                                                    format_checker=_FORMATS)
        resolver = registry.resolver(schema["$id"])

        def resolve(raw: dict) -> tuple[dict, _Compiler]:
            resolved = resolver.lookup(raw["$ref"])
            return resolved.contents, self._compiler

        root = _Compiler(resolve, structural=False).compile(schema)
        return KindSchema(kind, api_version, root, validator, structural=False)


# ------------------------------------------------------------------ CRD schemas


def _openapi_to_jsonschema(raw: Any) -> Any:
    """Translate OpenAPI v3.0 ``nullable`` into JSON-schema types (copying).

    A schema keyword whose value is null (the OpenShift Route CRD has ``anyOf: null`` on
    ``spec.port.targetPort``) means the keyword is absent, as the API server reads it.
    """
    if isinstance(raw, list):
        return [_openapi_to_jsonschema(x) for x in raw]
    if not isinstance(raw, dict):
        return raw
    out = {}
    for key, value in raw.items():
        if value is None and key not in ("default", "enum", "example"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: _openapi_to_jsonschema(v) for k, v in value.items()}
        elif key in ("default", "enum", "example", "x-kubernetes-validations"):
            out[key] = value
        else:
            out[key] = _openapi_to_jsonschema(value)
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
    return out


def crd_kind_schema(kind: str, api_version: str, openapi_schema: dict | None,
                    object_meta: Node) -> KindSchema:
    """Compile a CRD version's ``openAPIV3Schema`` (no schema: accept anything)."""
    raw = openapi_schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    raw = _openapi_to_jsonschema(raw)
    validator = jsonschema.Draft4Validator(raw, format_checker=_FORMATS)
    root = _Compiler(None, structural=True).compile(raw)
    implicit = {"apiVersion": SCALAR, "kind": SCALAR, "metadata": object_meta}
    if root.shape in ("struct", "any"):
        root = root.with_overrides(implicit=implicit)
    return KindSchema(kind, api_version, root, validator, structural=True)
