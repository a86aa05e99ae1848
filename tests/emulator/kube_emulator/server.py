"""HTTP layer: routing, serialisation, the request log.

A ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive (kubectl and the
python client reuse connections).  URL layout is the real server's::

    /version  /healthz  /livez  /readyz
    /api  /api/v1  /apis  /apis/{group}  /apis/{group}/{version}
    /api/v1/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]
    /apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]
    /openapi/v2  /openapi/v3[/...]   minimal documents for kubectl (see openapi.py)

plus the emulator's own ``/_emulator/requests`` (GET: the request log as
JSON, DELETE: reset), which is not itself logged.

``latency`` (seconds) delays every API request before it is handled, as the
round trip to a cluster that is not on this machine does (a few ms in the
same region); requests on different connections are delayed side by side.

Watches are streamed with chunked transfer encoding, one JSON event per
chunk, as the real server does.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from . import discovery, errors, openapi
from .api import Api, Request, Response

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
EMULATOR_PREFIX = "/_emulator/"


class RequestLog:
    """Every API request, in order: the in-memory list plus an optional JSONL file."""

    def __init__(self, path: str | None = None):
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._path = path

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            if self._path:
                with open(self._path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e, query=dict(e["query"])) for e in self._entries]

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api, log: RequestLog, schema_version: str,
                 latency: float = 0.0, sleep: Callable[[float], None] = time.sleep):
        super().__init__(address, _Handler)
        self.api = api
        self.log = log
        self.schema_version = schema_version
        self.latency = latency
        self.sleep = sleep


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "kube-emulator"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log replaces access logging

    # Every verb goes through one entry point.
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- plumbing -------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: Any, content_type: str = "application/json",
              warnings: list[str] | None = None) -> None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or []:
            self.send_header("Warning", f'299 - {json.dumps(warning)}')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def _stream(self, response: Response) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            for event in response.stream or ():
                if event is None:
                    if self._client_gone():
                        break
                    continue
                data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    # -- dispatch -------------------------------------------------------------------

    def _dispatch(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        body = self._read_body()
        if path.startswith(EMULATOR_PREFIX.rstrip("/")):
            return self._emulator_endpoint(path)
        if self.server.latency > 0:
            self.server.sleep(self.server.latency)
        entry = {"method": self.command, "path": path, "query": query, "status": 0,
                 "write": False, "dry_run": query.get("dryRun") == "All",
                 "content_type": self.headers.get("Content-Type")}
        try:
            response = self._respond(path, query, body, entry)
        except Exception as exc:  # a bug in the emulator: answer 500 like the real server would
            err = errors.ApiError(500, "InternalError", f"Internal error occurred: {exc!r}")
            response = Response(500, err.status())
            self.server.handle_error(self.request, self.client_address)
        entry["status"] = response.code
        entry["write"] = self.command in WRITE_METHODS and not entry["dry_run"]
        # Logged before answering, so a client that got its reply sees it in the log.
        self.server.log.record(entry)
        if response.stream is not None:
            return self._stream(response)
        self._send(response.code, response.body, response.content_type, response.warnings)

    def _respond(self, path: str, query: dict[str, str], body: bytes, entry: dict[str, Any]) -> Response:
        try:
            request = self._route(path, query, body)
            if callable(request):
                code, payload, ctype = request()
                return Response(code, payload, content_type=ctype)
            response = self.server.api.handle(request)
            entry["dry_run"] = request.dry_run  # dryRun may also come from DeleteOptions
            return response
        except errors.ApiError as exc:
            return Response(exc.code, exc.status())

    def _emulator_endpoint(self, path: str) -> None:
        if path == "/_emulator/requests" and self.command == "GET":
            return self._send(200, self.server.log.entries())
        if path == "/_emulator/requests" and self.command == "DELETE":
            self.server.log.reset()
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return self._send(404, errors.unknown_path().status())

    def _route(self, path: str, query: dict[str, str], body: bytes) -> Request | Callable:
        """Turn a URL into a resource :class:`Request` or a static-document thunk."""
        api = self.server.api
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        accept = self.headers.get("Accept", "")
        if self.command == "GET" or self.command == "HEAD":
            static = self._static(parts, accept)
            if static is not None:
                return static
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.unknown_path()
        if not rest:
            raise errors.method_not_allowed()
        namespace = None
        ns_type = api.registry.lookup("", "v1", "namespaces")
        if (rest[0] == "namespaces" and len(rest) >= 3 and ns_type is not None
                and not (len(rest) == 3 and rest[2] in ns_type.subresources)):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise errors.unknown_path()
        rtype = api.registry.lookup(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise errors.unknown_path()
        name = rest[1] if len(rest) > 1 else None
        if rtype.namespaced and namespace is None and name is not None:
            raise errors.unknown_path()
        return Request(method=self.command, rtype=rtype, namespace=namespace, name=name,
                       subresource=rest[2] if len(rest) > 2 else None, query=query, body=body,
                       content_type=self.headers.get("Content-Type", ""),
                       user_agent=self.headers.get("User-Agent", ""))

    def _static(self, parts: list[str], accept: str) -> Callable | None:
        """Discovery and health documents (GET only)."""
        registry = self.server.api.registry
        json_ct = "application/json"
        if parts == ["version"]:
            return lambda: (200, discovery.version_info(self.server.schema_version), json_ct)
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return lambda: (200, "ok", "text/plain")
        if parts == ["openapi", "v2"]:
            return lambda: (200, openapi.v2_document(), openapi.PROTOBUF_V2)
        if parts == ["openapi", "v3"]:
            return lambda: (200, openapi.v3_discovery(registry), json_ct)
        if len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            gv = parts[2:]
            group, version = ("", gv[1]) if gv[0] == "api" and len(gv) == 2 else (
                (gv[1], gv[2]) if gv[0] == "apis" and len(gv) == 3 else (None, None))
            doc = openapi.v3_group_version(registry, group, version) if group is not None else None
            return lambda: (200, doc, json_ct) if doc else (404, errors.unknown_path().status(), json_ct)
        aggregated = discovery.wants_aggregated(accept)
        if parts == ["api"]:
            if aggregated:
                return lambda: (200, discovery.aggregated(registry, True, aggregated), aggregated)
            return lambda: (200, discovery.api_versions(), json_ct)
        if parts == ["apis"]:
            if aggregated:
                return lambda: (200, discovery.aggregated(registry, False, aggregated), aggregated)
            return lambda: (200, discovery.api_group_list(registry), json_ct)
        if parts == ["api", "v1"]:
            return lambda: (200, discovery.api_resource_list(registry, "", "v1"), json_ct)
        if len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(registry, parts[1])
            return lambda: (200, doc, json_ct) if doc else (404, errors.unknown_path().status(), json_ct)
        if len(parts) == 3 and parts[0] == "apis":
            doc = discovery.api_resource_list(registry, parts[1], parts[2])
            return lambda: (200, doc, json_ct) if doc else (404, errors.unknown_path().status(), json_ct)
        return None


def make_server(host: str, port: int, api: Api, log: RequestLog, schema_version: str,
                latency: float = 0.0, sleep: Callable[[float], None] = time.sleep) -> _Server:
    return _Server((host, port), api, log, schema_version, latency, sleep)
