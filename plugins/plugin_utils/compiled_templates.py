# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Compiled Jinja templates kept between the tenants and the runs of the apply path.

Ansible compiles a template string every time it renders one, and the k8s_apply action renders
the same role templates and role variables for every tenant, each tenant in a fresh worker
process: half of a tenant's render time went to Jinja's lexer, parser, code generator and
Python's ``compile``. Jinja's answer for file templates is its bytecode cache; Ansible renders
strings, which that cache never sees. ``install`` puts the same cache in front of one Jinja
environment's ``compile``: the code object of each source is kept in memory for the process and
on disk (Jinja's ``FileSystemBytecodeCache``: a folder of the user's own, mode 0700, each entry
written atomically and checked against Python's bytecode magic and the source's checksum), so a
later worker loads it instead of compiling it.

The key is everything the generated code depends on: the source, the template's name and file
name, Ansible's, Jinja's and Python's versions, the environment's lexer and code generator
settings (delimiters, finalize, autoescape, extensions...) and whether Ansible escapes backslashes
for this compile. Anything not a plain string (a parsed tree) compiles as before.
It is an optimisation only: where the environment is not what this expects, ``install`` leaves
it alone and says so by returning False.

``names`` keeps, the same way, the variables a template source uses (the apply path resolves
those once before rendering): finding them parses the source, which costs as much as compiling.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys

import jinja2
from jinja2 import meta
from jinja2.bccache import Bucket, FileSystemBytecodeCache

from ansible.release import __version__ as _ANSIBLE_VERSION
from ansible_collections.edp.platform.plugins.module_utils.atomic_write import write_atomically

try:
    from ansible._internal._templating._jinja_bits import _TemplateCompileContext
except ImportError:  # another ansible-core: the escape_backslashes state is then unknown
    _TemplateCompileContext = None

# EDP_TEMPLATE_CACHE_DIR: the folder of the disk cache, which must be the user's own and writable by
# nobody else (otherwise memory only); empty turns the disk cache off. Unset: Jinja's default
# folder for the user ($TMPDIR/_jinja2-cache-<uid>, made 0700 and checked).
_ENV_DIR = "EDP_TEMPLATE_CACHE_DIR"
_PATTERN = "edp-platform-%s.cache"
_NAMES_PATTERN = "edp-platform-names-%s.json"
_VERSIONS = "%s|%s|%s" % (_ANSIBLE_VERSION, jinja2.__version__, sys.version)
_LEXER_FIELDS = ("block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
                 "comment_start_string", "comment_end_string", "line_statement_prefix",
                 "line_comment_prefix", "trim_blocks", "lstrip_blocks", "newline_sequence",
                 "keep_trailing_newline")


class CompiledTemplates:
    """Code objects by key: in memory, and in ``directory`` when there is one."""

    def __init__(self, directory=None):
        self._memory = {}
        self._disk = None
        self.hits = self.loads = self.compiles = 0
        if directory is None:
            directory = os.environ.get(_ENV_DIR)
        if directory == "":
            return
        if directory and not _own_private_folder(directory):
            return  # what it holds is loaded as code: only from a folder nobody else can write to
        try:
            self._disk = FileSystemBytecodeCache(directory or None, _PATTERN)
        except (OSError, RuntimeError):  # no safe folder of our own (Jinja's check): memory only
            self._disk = None

    def names(self, parser, source):
        """The undeclared variables of ``source`` as ``parser`` (a plain Jinja environment) finds them."""
        key = hashlib.sha256(("names|" + _VERSIONS + "|" + source).encode("utf-8", "surrogatepass")).hexdigest()
        found = self._memory.get(key)
        if found is not None:
            return found
        path = os.path.join(self._disk.directory, _NAMES_PATTERN % key) if self._disk else None
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    found = frozenset(json.load(handle))
            except (OSError, ValueError, TypeError):
                found = None
        if found is None:
            found = frozenset(meta.find_undeclared_variables(parser.parse(source)))
            if path:
                self._write(path, json.dumps(sorted(found)))
        self._memory[key] = found
        return found

    def _write(self, path, text):
        """``text`` into ``path``, atomically (a reader sees all of it or nothing)."""
        try:
            write_atomically(path, text, mode=0o600)
        except OSError:  # a full or read-only disk: the cache is only an optimisation
            pass

    def install(self, environment):
        """Route ``environment.compile`` through this cache; False if it has no ``compile`` to wrap."""
        original = getattr(environment, "compile", None)
        if not callable(original) or getattr(original, "_edp_cached", False):
            return False

        def compile(source, name=None, filename=None, raw=False, defer_init=False):  # noqa: A001 (Jinja's name)
            if raw or not isinstance(source, str):
                return original(source, name, filename, raw, defer_init)
            key = self._key(environment, source, name, filename, defer_init)
            code = self._memory.get(key)
            if code is not None:
                self.hits += 1
                return code
            code = self._load(environment, key)
            if code is None:
                code = original(source, name, filename, raw, defer_init)
                self.compiles += 1
                self._dump(environment, key, code)
            else:
                self.loads += 1
            self._memory[key] = code
            return code

        compile._edp_cached = True
        environment.compile = compile
        return True

    @staticmethod
    def _key(environment, source, name, filename, defer_init):
        context = _TemplateCompileContext.current(optional=True) if _TemplateCompileContext else None
        escape = getattr(context, "escape_backslashes", None) if context else None
        lexer = tuple(repr(getattr(environment, field, None)) for field in _LEXER_FIELDS)
        # What Jinja's code generator reads from the environment besides the lexer's settings.
        finalize = getattr(environment, "finalize", None)
        generator = (type(environment).__qualname__, getattr(finalize, "__qualname__", repr(finalize)),
                     repr(getattr(environment, "autoescape", None)), repr(getattr(environment, "is_async", None)),
                     repr(getattr(environment, "optimized", None)),
                     tuple(sorted(getattr(environment, "extensions", {}) or {})))
        digest = hashlib.sha256()
        for part in (_VERSIONS, repr(lexer), repr(generator), repr(escape), repr(name), repr(filename), repr(defer_init), source):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()

    @staticmethod
    def _bucket(environment, key):
        # The key already hashes the source: it is the entry's checksum too (no second hash).
        return Bucket(environment, key, key)

    def _load(self, environment, key):
        if self._disk is None:
            return None
        bucket = self._bucket(environment, key)
        try:
            self._disk.load_bytecode(bucket)
        except Exception:  # a damaged entry (pickle, marshal or I/O errors alike): compile it again
            return None
        return bucket.code

    def _dump(self, environment, key, code):
        if self._disk is None:
            return
        bucket = self._bucket(environment, key)
        bucket.code = code
        try:
            self._disk.dump_bytecode(bucket)
        except OSError:  # a full or read-only disk: the cache is only an optimisation
            pass


def _own_private_folder(directory):
    """Whether ``directory`` is a folder (not a link) of this user that nobody else may write to."""
    try:
        info = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


_shared = None


def shared():
    """The process's cache (one per worker process; the disk part is shared between them)."""
    global _shared
    if _shared is None:
        _shared = CompiledTemplates()
    return _shared
