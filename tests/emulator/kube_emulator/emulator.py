"""The :class:`Emulator`: store + API + HTTP server, as one object for tests.

Usage::

    with Emulator(kube_version="1.31", crd_dirs=[crd_dir]) as emu:
        emu.write_kubeconfig(tmp_path / "kubeconfig")
        ...                      # run kubectl / ansible against emu.url
        assert not emu.writes()  # e.g. a rerun changed nothing

Like a fresh cluster it starts with the ``default``, ``kube-system``,
``kube-public`` and ``kube-node-lease`` namespaces, plus the CRDs found in
``crd_dirs`` (as if their operators were installed).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable

import yaml

from .api import Api, Request
from .resources import Registry
from .schema import BuiltinSchemas
from .server import RequestLog, make_server
from .store import Store

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_crd_dir() -> Path:
    """Where the project keeps upstream CRDs: ``$EDP_CRD_DIR``, else ``<repo>/../shared/crds``."""
    if os.environ.get("EDP_CRD_DIR"):
        return Path(os.environ["EDP_CRD_DIR"])
    repo_root = Path(__file__).resolve().parents[3]  # <repo>/tests/emulator/kube_emulator
    return repo_root.parent / "shared" / "crds"


def load_crds(directory: str | os.PathLike) -> list[dict]:
    """Every ``CustomResourceDefinition`` document in the YAML/JSON files of ``directory``."""
    crds = []
    for path in sorted(Path(directory).iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        with open(path, encoding="utf-8") as fh:
            for doc in yaml.load_all(fh, Loader=_Loader):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(doc)
    return crds


class Emulator:
    def __init__(self, kube_version: str = "1.31", crd_dirs: Iterable[str | os.PathLike] = (),
                 host: str = "127.0.0.1", port: int = 0, request_log: str | None = None,
                 namespace_deletion_delay: float = 0.5):
        """``namespace_deletion_delay``: seconds a deleted namespace stays Terminating
        before it and its contents are removed (0: removed within the DELETE)."""
        self.registry = Registry()
        self.store = Store()
        self.schemas = BuiltinSchemas.shared(kube_version)
        self.api = Api(self.registry, self.store, self.schemas, namespace_deletion_delay)
        self.log = RequestLog(request_log)
        self._host, self._port = host, port
        self._server = None
        self._thread: threading.Thread | None = None
        self._bootstrap(crd_dirs)

    # -- lifecycle ------------------------------------------------------------------

    def _bootstrap(self, crd_dirs: Iterable[str | os.PathLike]) -> None:
        for name in INITIAL_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        for directory in crd_dirs:
            for crd in load_crds(directory):
                self.create(crd)

    def start(self) -> "Emulator":
        self._server = make_server(self._host, self._port, self.api, self.log, self.schemas.version)
        self._thread = threading.Thread(target=self._server.serve_forever, name="kube-emulator",
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.stop()
        self.store.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def write_kubeconfig(self, path: str | os.PathLike, namespace: str | None = None) -> Path:
        """Write a kubeconfig whose current context ``emulator`` points here (token auth)."""
        context: dict[str, Any] = {"cluster": "emulator", "user": "emulator"}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": "emulator-token"}}],
            "contexts": [{"name": "emulator", "context": context}],
            "current-context": "emulator",
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    # -- request log ----------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        return self.log.entries()

    def writes(self) -> list[dict[str, Any]]:
        """Requests that changed or could have changed state (non-dry-run writes)."""
        return [e for e in self.log.entries() if e["write"]]

    def reset_requests(self) -> None:
        self.log.reset()

    # -- direct store access (not logged) -------------------------------------------

    def create(self, obj: dict) -> dict:
        """Create ``obj`` through the API pipeline without HTTP (validated, not logged)."""
        rtype = self.registry.by_kind(obj["apiVersion"], obj["kind"])
        if rtype is None:
            raise KeyError(f'no resource serves {obj["apiVersion"]} {obj["kind"]}')
        namespace = (obj.get("metadata") or {}).get("namespace") or ("default" if rtype.namespaced else None)
        request = Request("POST", rtype, namespace=namespace, body=json.dumps(obj).encode(),
                          content_type="application/json", user_agent="kube-emulator")
        return self.api.handle(request).body

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        rtype = self.registry.by_kind(api_version, kind)
        if rtype is None:
            return None
        obj = self.store.get(rtype.store_key, (namespace or "") if rtype.namespaced else "", name)
        if obj is not None:
            obj["apiVersion"] = rtype.api_version
        return obj
