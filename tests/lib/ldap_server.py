"""A real, throwaway OpenLDAP server (Debian's slapd) for tests, over TLS.

``with LdapServer() as ldap: ldap.url``

* slapd from the OS packages (``slapd``, ``ldap-utils``: ``.ci/run`` installs them), in a folder
  of its own, on a free port of 127.0.0.1, listening on ``ldaps://`` only (``start_tls=True``:
  ``ldap://``, which the client upgrades with StartTLS; slapd then refuses a bind in clear);
  its certificate signed by an authority made for the run (``ca_pem``, ``ca_path``).
* One mdb database, ``dc=example,dc=com``, with the memberof overlay: a user's ``memberOf``
  lists the groups (``groupOfNames``) that name them as ``member``.
* ``bind_dn``/``bind_password``: a service account that may search; users' passwords may only
  be checked (bind), not read.
* Changes go through ``ldapmodify`` as the root DN, its password in a 0600 file (``-y``), never
  on a command line.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lib.airflow_server import free_port

SLAPD = "/usr/sbin/slapd"
SCHEMAS = "/etc/ldap/schema"
MODULES = "/usr/lib/ldap"
BASE = "dc=example,dc=com"
PEOPLE = "ou=people," + BASE
GROUPS = "ou=groups," + BASE


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls(folder: pathlib.Path):
    """An authority and a server certificate for 127.0.0.1 and localhost; (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("edp test LDAP CA")).issuer_name(_name("edp test LDAP CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].touch(mode=0o600)
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class LdapServer:
    """slapd on a free port of 127.0.0.1, TLS with an authority of its own."""

    def __init__(self, start_tls: bool = False, startup_timeout: float = 30):
        self.start_tls = start_tls
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = "%s://%s:%d" % ("ldap" if start_tls else "ldaps", self.host, self.port)
        self.root_dn = "cn=admin," + BASE
        self.root_password = secrets.token_urlsafe(18)
        self.bind_dn = "cn=airflow,ou=services," + BASE
        self.bind_password = "bind-" + secrets.token_urlsafe(18)
        self.folder = None
        self.process = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self):
        if not os.access(SLAPD, os.X_OK) or not shutil.which("ldapmodify"):
            raise RuntimeError("OpenLDAP is not installed: apt-get install slapd ldap-utils (.ci/run installs them, "
                               "its service kept down)")
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="edp-ldap-"))
        (self.folder / "data").mkdir()
        self.ca_path, cert, key = make_tls(self.folder)
        self.ca_pem = self.ca_path.read_text()
        self.password_file = self.folder / "root-password"
        self.password_file.touch(mode=0o600)
        self.password_file.write_text(self.root_password)
        conf = self.folder / "slapd.conf"
        conf.touch(mode=0o600)
        conf.write_text("\n".join([
            "include %s/core.schema" % SCHEMAS,
            "include %s/cosine.schema" % SCHEMAS,
            "include %s/inetorgperson.schema" % SCHEMAS,
            "modulepath %s" % MODULES,
            "moduleload back_mdb",
            "moduleload memberof",
            "pidfile %s/slapd.pid" % self.folder,
            "TLSCACertificateFile %s" % self.ca_path,
            "TLSCertificateFile %s" % cert,
            "TLSCertificateKeyFile %s" % key,
            # With StartTLS, nothing but the upgrade in clear: a simple bind needs TLS.
            "security simple_bind=128" if self.start_tls else "",
            "database mdb",
            "maxsize 16777216",
            'suffix "%s"' % BASE,
            'rootdn "%s"' % self.root_dn,
            "rootpw %s" % self._ssha(self.root_password),
            "directory %s/data" % self.folder,
            "overlay memberof",
            "memberof-group-oc groupOfNames",
            "memberof-member-ad member",
            "memberof-memberof-ad memberOf",
            "memberof-refint true",
            "access to attrs=userPassword by anonymous auth by * none",
            "access to * by users read by * none",
            ""]))
        self.log_path = self.folder / "slapd.log"
        try:
            with open(self.log_path, "w") as log:
                # -d 0: in the foreground (stop() ends it), no debug output.
                self.process = subprocess.Popen([SLAPD, "-f", str(conf), "-h", self.url + "/", "-d", "0"],
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_ready()
            self._load_base()
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _ssha(password):
        import base64
        import hashlib

        salt = os.urandom(8)
        return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()

    def _wait_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited with rc %s; its log:\n%s" % (self.process.returncode,
                                                                               self.log_path.read_text()[-3000:]))
            if self._client("ldapwhoami", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("slapd at %s not ready after %d s; its log:\n%s" % (
            self.url, self.startup_timeout, self.log_path.read_text()[-3000:]))

    def stop(self):
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the directory --------------------------------------------------------------
    def _client(self, tool, ldif=None, check=True, extra=()):
        """An ldap-utils tool as the root DN (its password from the 0600 file), over TLS."""
        args = [tool, "-x", "-H", self.url, "-D", self.root_dn, "-y", str(self.password_file)] + list(extra)
        if self.start_tls:
            args.append("-ZZ")
        env = dict(os.environ, LDAPTLS_CACERT=str(self.ca_path), LDAPTLS_REQCERT="demand")
        proc = subprocess.run(args, input=ldif, capture_output=True, text=True, env=env, timeout=30)
        if check and proc.returncode != 0:
            raise RuntimeError("%s failed (rc %d): %s%s" % (tool, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def modify(self, ldif):
        """Apply LDIF change records (``changetype: ...``)."""
        return self._client("ldapmodify", ldif)

    def _load_base(self):
        self.modify("\n".join([
            "dn: " + BASE, "changetype: add", "objectClass: dcObject", "objectClass: organization",
            "o: example", "dc: example", "",
            "dn: ou=services," + BASE, "changetype: add", "objectClass: organizationalUnit", "ou: services", "",
            "dn: " + PEOPLE, "changetype: add", "objectClass: organizationalUnit", "ou: people", "",
            "dn: " + GROUPS, "changetype: add", "objectClass: organizationalUnit", "ou: groups", "",
            "dn: " + self.bind_dn, "changetype: add", "objectClass: organizationalRole",
            "objectClass: simpleSecurityObject", "cn: airflow", "userPassword: " + self._ssha(self.bind_password),
            ""]))

    def user_dn(self, uid):
        return "uid=%s,%s" % (uid, PEOPLE)

    def group_dn(self, name):
        return "cn=%s,%s" % (name, GROUPS)

    def add_user(self, uid, password):
        self.modify("\n".join([
            "dn: " + self.user_dn(uid), "changetype: add", "objectClass: inetOrgPerson", "uid: " + uid,
            "cn: " + uid, "sn: Tester", "givenName: " + uid, "mail: %s@example.com" % uid,
            "userPassword: " + self._ssha(password), ""]))

    def add_group(self, name, members):
        """A groupOfNames with these users (and the service account: a group needs a member)."""
        self.modify("\n".join(["dn: " + self.group_dn(name), "changetype: add", "objectClass: groupOfNames",
                               "cn: " + name, "member: " + self.bind_dn]
                              + ["member: " + self.user_dn(uid) for uid in members] + [""]))

    def add_member(self, group, uid):
        self.modify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" % (self.group_dn(group), self.user_dn(uid)))

    def remove_member(self, group, uid):
        self.modify("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n" % (self.group_dn(group),
                                                                                     self.user_dn(uid)))

    def member_of(self, uid):
        """The group DNs slapd lists in the user's memberOf (the overlay keeps them)."""
        out = self._client("ldapsearch", extra=["-LLL", "-o", "ldif-wrap=no", "-b", self.user_dn(uid),
                                                "-s", "base", "memberOf"]).stdout
        return sorted(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("memberOf: "))
