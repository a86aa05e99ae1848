# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""A small Kubernetes REST client for the controller side of the collection.

Why not the ``kubernetes`` package: importing it costs about 0.3 s per forked worker
(it loads hundreds of generated models) and the apply path needs none of them, only
JSON over HTTP(S). This client speaks the REST API directly with ``http.client``,
keeps one keep-alive connection, and understands the kubeconfig features that
deployers actually use:

* clusters: ``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
  ``tls-server-name``;
* users: ``token``, ``tokenFile``, ``client-certificate(-data)``/``client-key(-data)``,
  ``username``/``password``, and ``exec`` credential plugins (EKS, GKE, OIDC helpers);
* the in-cluster service account (an AWX execution environment running in a pod).

Everything here is pure standard library so it can be unit-tested without a cluster.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import threading
import urllib.parse

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class KubeConfigError(Exception):
    """The kubeconfig (or in-cluster configuration) cannot be used."""


class KubeApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status, reason, message, body=None):
        super().__init__("%s %s: %s" % (status, reason, message))
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}


class ClusterConfig:
    """Where the API server is and how to authenticate to it."""

    def __init__(self, server, namespace="default", token=None, basic=None, verify=True,
                 ca_file=None, ca_data=None, cert_file=None, key_file=None,
                 cert_data=None, key_data=None, tls_server_name=None, exec_spec=None):
        self.server = server.rstrip("/")
        self.namespace = namespace
        self.token = token
        self.basic = basic
        self.verify = verify
        self.ca_file = ca_file
        self.ca_data = ca_data
        self.cert_file = cert_file
        self.key_file = key_file
        self.cert_data = cert_data
        self.key_data = key_data
        self.tls_server_name = tls_server_name
        self.exec_spec = exec_spec


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _b64(value):
    return base64.b64decode(value) if value else None


def _resolve(base_dir, path):
    if not path:
        return None
    return path if os.path.isabs(path) else os.path.join(base_dir, path)


def _named(items, name, what, path):
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    raise KubeConfigError("%s %r is not defined in %s" % (what, name, path))


def kubeconfig_path(explicit=None):
    """The kubeconfig file to use, in the order kubectl and kubernetes.core use."""
    for candidate in (explicit, os.environ.get("K8S_AUTH_KUBECONFIG")):
        if candidate:
            return os.path.expanduser(candidate)
    for candidate in (os.environ.get("KUBECONFIG") or "").split(os.pathsep):
        if candidate and os.path.exists(os.path.expanduser(candidate)):
            return os.path.expanduser(candidate)
    default = os.path.expanduser("~/.kube/config")
    return default if os.path.exists(default) else None


def load_config(kubeconfig=None, context=None):
    """Return a ClusterConfig from a kubeconfig file, or in-cluster when there is none."""
    path = kubeconfig_path(kubeconfig)
    if path is None:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return in_cluster_config()
        raise KubeConfigError(
            "no kubeconfig: set edp_kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG, "
            "or run inside a pod with a service account")
    if not os.path.exists(path):
        raise KubeConfigError("kubeconfig %s does not exist" % path)
    if yaml is None:  # pragma: no cover
        raise KubeConfigError("PyYAML is required to read a kubeconfig")
    with open(path, encoding="utf-8") as handle:
        doc = yaml.safe_load(handle) or {}
    base_dir = os.path.dirname(os.path.abspath(path))
    context_name = context or os.environ.get("K8S_AUTH_CONTEXT") or doc.get("current-context")
    if not context_name:
        raise KubeConfigError("%s has no current-context and none was given" % path)
    ctx = _named(doc.get("contexts"), context_name, "context", path)
    cluster = _named(doc.get("clusters"), ctx.get("cluster"), "cluster", path)
    user = _named(doc.get("users"), ctx.get("user"), "user", path) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise KubeConfigError("cluster %r in %s has no server" % (ctx.get("cluster"), path))
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read(_resolve(base_dir, user["tokenFile"])).decode().strip()
    basic = None
    if user.get("username") and user.get("password"):
        basic = (user["username"], user["password"])
    return ClusterConfig(
        server=cluster["server"],
        namespace=ctx.get("namespace") or "default",
        token=token,
        basic=basic,
        verify=not cluster.get("insecure-skip-tls-verify", False),
        ca_file=_resolve(base_dir, cluster.get("certificate-authority")),
        ca_data=_b64(cluster.get("certificate-authority-data")),
        cert_file=_resolve(base_dir, user.get("client-certificate")),
        key_file=_resolve(base_dir, user.get("client-key")),
        cert_data=_b64(user.get("client-certificate-data")),
        key_data=_b64(user.get("client-key-data")),
        tls_server_name=cluster.get("tls-server-name"),
        exec_spec=user.get("exec"),
    )


def in_cluster_config():
    """The pod's service account, as client-go's rest.InClusterConfig does."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = "[%s]" % host
    token_path = os.path.join(SERVICE_ACCOUNT_DIR, "token")
    if not os.path.exists(token_path):
        raise KubeConfigError("in-cluster: %s does not exist" % token_path)
    ns_path = os.path.join(SERVICE_ACCOUNT_DIR, "namespace")
    namespace = _read(ns_path).decode().strip() if os.path.exists(ns_path) else "default"
    return ClusterConfig(server="https://%s:%s" % (host, port), namespace=namespace,
                         token=_read(token_path).decode().strip(),
                         ca_file=os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt"))


def run_exec_plugin(spec):
    """Run a client-go exec credential plugin and return its ``status``."""
    env = dict(os.environ)
    for item in spec.get("env") or []:
        env[item["name"]] = item["value"]
    cmd = [spec["command"]] + list(spec.get("args") or [])
    try:
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise KubeConfigError("exec credential plugin %s failed: %s" % (spec["command"], exc))
    try:
        return json.loads(out)["status"]
    except (ValueError, KeyError):
        raise KubeConfigError("exec credential plugin %s printed no ExecCredential status"
                              % spec["command"])


class KubeClient:
    """JSON over keep-alive HTTP(S) connections, plus cached API discovery.

    Safe to share between threads: each thread gets its own connection (http.client's are
    not thread-safe), so independent reads can be sent in parallel when the API server is far.
    """

    def __init__(self, config, timeout=30, user_agent="edp.platform"):
        self.config = config
        self.timeout = timeout
        self.user_agent = user_agent
        self.stats = {"reads": 0, "writes": 0}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._conns = []
        self._ssl = None
        self._tmpfiles = []
        self._group_versions = {}
        url = urllib.parse.urlsplit(config.server)
        self._scheme = url.scheme
        self._host = url.hostname
        self._port = url.port
        self._prefix = url.path.rstrip("/")
        if config.exec_spec:
            status = run_exec_plugin(config.exec_spec)
            config.token = status.get("token") or config.token
            if status.get("clientCertificateData"):
                config.cert_data = status["clientCertificateData"].encode()
                config.key_data = status["clientKeyData"].encode()

    # -- transport -------------------------------------------------------------------
    def _tmp(self, data):
        handle = tempfile.NamedTemporaryFile(prefix="edp-kube-", delete=False)
        os.chmod(handle.name, 0o600)
        handle.write(data)
        handle.close()
        self._tmpfiles.append(handle.name)
        return handle.name

    def _ssl_context(self):
        cfg = self.config
        ctx = ssl.create_default_context()
        if not cfg.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif cfg.ca_data:
            ctx.load_verify_locations(cadata=cfg.ca_data.decode())
        elif cfg.ca_file:
            ctx.load_verify_locations(cafile=cfg.ca_file)
        cert = cfg.cert_file or (cfg.cert_data and self._tmp(cfg.cert_data))
        key = cfg.key_file or (cfg.key_data and self._tmp(cfg.key_data))
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def _connection(self):
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._scheme == "https":
                with self._lock:
                    if self._ssl is None:
                        self._ssl = self._ssl_context()
                conn = http.client.HTTPSConnection(
                    self._host, self._port or 443, timeout=self.timeout, context=self._ssl)
                if self.config.tls_server_name:
                    conn.server_hostname = self.config.tls_server_name
            else:
                conn = http.client.HTTPConnection(self._host, self._port or 80, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _drop_connection(self):
        """Forget this thread's connection (the server closed it, or it failed)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._lock:
                self._conns = [c for c in self._conns if c is not conn]

    def close(self):
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        for name in self._tmpfiles:
            try:
                os.unlink(name)
            except OSError:
                pass
        self._tmpfiles = []

    def request(self, method, path, query=None, body=None, content_type="application/json"):
        """Send one request and return the decoded JSON answer; raise KubeApiError on >= 400."""
        return self.send(method, path, query, body, content_type)[1]

    def send(self, method, path, query=None, body=None, content_type="application/json"):
        """``(status, decoded JSON answer)`` of one request (the status tells 201 Created from
        200 OK); raise KubeApiError on >= 400."""
        url = self._prefix + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self.config.token:
            headers["Authorization"] = "Bearer " + self.config.token
        elif self.config.basic:
            raw = ("%s:%s" % self.config.basic).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        dry_run = bool(query and query.get("dryRun"))
        with self._lock:
            self.stats["writes" if method != "GET" and not dry_run else "reads"] += 1
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, url, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                # A keep-alive connection the server closed meanwhile: reconnect once.
                self._drop_connection()
                if attempt == 2:
                    raise KubeApiError(0, "ConnectionError", "cannot reach %s: %s"
                                       % (self.config.server, exc))
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise KubeApiError(0, "ConnectionError", "cannot reach %s: %s"
                                   % (self.config.server, exc))
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {"message": data[:200].decode("utf-8", "replace")}
        if resp.status >= 400:
            message = decoded.get("message") if isinstance(decoded, dict) else None
            raise KubeApiError(resp.status, resp.reason, message or resp.reason, decoded)
        return resp.status, decoded

    # -- discovery -------------------------------------------------------------------
    def resources(self, api_version):
        """``{kind: {"name": plural, "namespaced": bool}}`` for one group/version, or {}.

        Read once per group/version; two threads asking at once may both read it (harmless)."""
        if api_version not in self._group_versions:
            path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
            try:
                listing = self.request("GET", path)
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                listing = {}
            self._group_versions[api_version] = {
                res["kind"]: {"name": res["name"], "namespaced": res["namespaced"]}
                for res in listing.get("resources", []) if "/" not in res["name"]
            }
        return self._group_versions[api_version]

    def resource(self, api_version, kind):
        """The resource for a kind, or None when the server does not serve it (no CRD)."""
        return self.resources(api_version).get(kind)

    @staticmethod
    def path(api_version, resource, namespace=None, name=None):
        base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        if resource["namespaced"] and namespace:
            base += "/namespaces/" + namespace
        base += "/" + resource["name"]
        return base + "/" + name if name else base
