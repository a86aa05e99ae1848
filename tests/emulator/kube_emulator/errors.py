"""API errors rendered as ``metav1.Status`` bodies.

The real API server answers every failed request with a ``Status`` object::

    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
     "message": "...", "reason": "NotFound", "details": {...}, "code": 404}

Clients depend on ``reason`` and ``code`` (kubectl prints ``message``; the
python client raises ``NotFoundError``/``ConflictError`` from ``code``), so
every error raised inside the emulator is an :class:`ApiError` carrying
exactly those fields, and the HTTP layer serialises it.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response: HTTP ``code`` plus a ``metav1.Status`` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details.update(extra)
    return details


def not_found(resource: str, group: str, name: str) -> ApiError:
    """``404 NotFound`` for a named object, e.g. ``configmaps "x" not found``."""
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found',
                    _details(name, group, resource))


def unknown_path() -> ApiError:
    """``404 NotFound`` for a path no registered resource serves.

    This is what a real server answers for a custom resource whose CRD does
    not exist (yet): the URL is simply unknown to it.
    """
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists',
                    _details(name, group, resource))


def conflict(resource: str, group: str, name: str, message: str,
             causes: list[dict[str, str]] | None = None) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    extra = {"causes": causes} if causes else {}
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified} "{name}": {message}',
                    _details(name, group, resource, **extra))


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """``422 Invalid`` with ``details.causes`` naming each offending field.

    The message follows the real server: ``Deployment.apps "web" is invalid:
    spec.replicas: Invalid value: ...``.
    """
    qualified = f"{kind}.{group}" if group else kind
    summary = ", ".join(c["message"] if not c.get("field") else f'{c["field"]}: {c["message"]}'
                        for c in causes)
    if len(causes) > 1:
        summary = f"[{summary}]"
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}',
                    _details(name, group, kind, causes=causes))


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
