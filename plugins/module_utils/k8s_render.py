# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Render mode's files: a tenant's objects as a GitOps export that applies and works.

Layout below the render folder (``edp_render_dir``)::

    <environment>/manifests/<tenant>/NN-kind-name.yaml   every object but Secrets (0644)
    <environment>/manifests/<tenant>/kustomization.yaml
    <environment>/secrets/<tenant>/NN-secret-name.yaml   the Secrets (folders 0700, files 0600)
    <environment>/secrets/<tenant>/kustomization.yaml
    <environment>/.gitignore                             keeps secrets/ out of a git repository

Secrets are kept apart so that ``manifests/`` can be committed and reviewed while the
secrets go to whatever the user keeps secrets in (see README, "Render mode"). Every render
makes the Secret files and their folders private again, whatever their mode was. With
``secret_values=False`` no Secret is written (nor an earlier Secret file touched): the user's
own secret store provides them, and the result names each with its keys. Generated
Secret keys (``edp.platform/generate``) are read back from the previous render, so a
re-render changes only what the inventory changed, exactly as a rerun against a cluster does.

Nothing here knows Ansible: the action plugin passes objects in and gets a list of what was
done back (tests/unit/test_k8s_render.py).
"""

from __future__ import annotations

import os

import yaml

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils.atomic_write import write_atomically

KUSTOMIZATION = "kustomization.yaml"
GITIGNORE = "# Written by edp.platform render mode: Secrets never go into a repository.\n/secrets/\n"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RenderError(Exception):
    """A render folder cannot be used as it is (nothing is written after this is raised)."""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (config files in ConfigMaps) as literal blocks, as people write them."""


def _str(dumper, value):
    style = "|" if "\n" in value and not any(c in value for c in "\t\r") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(obj):
    """An object as YAML text, keys in the order they were rendered."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def kustomization(files):
    """A Kustomization listing ``files`` (apply order is in their names)."""
    return dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                 "resources": sorted(files)})


def is_secret(obj):
    return obj.get("kind") == "Secret"


class RenderTarget:
    """The two folders of one tenant in one environment, and what is in them now."""

    def __init__(self, root, environment, tenant):
        if not environment:
            raise RenderError("render mode needs the environment (edp_environment): it is part of the path")
        self.root = os.path.join(root, environment)
        self.manifests = os.path.join(self.root, "manifests", tenant)
        self.secrets = os.path.join(self.root, "secrets", tenant)

    def folder(self, obj):
        return self.secrets if is_secret(obj) else self.manifests

    def path(self, obj):
        return os.path.join(self.folder(obj), ko.render_filename(obj))

    @staticmethod
    def read(path):
        """``(text, object)`` of a rendered file, ``(None, None)`` when there is no such file.
        A file that is there but cannot be read is an error: a Secret in it may hold the only
        copy of a generated password, which must never be silently made anew."""
        try:
            text = _read_text(path)
            return text, (yaml.load(text, Loader=_Loader) if text is not None else None)
        except (OSError, yaml.YAMLError) as exc:
            raise RenderError("cannot read the earlier render %s: %s (fix or remove it)" % (path, exc))

    def existing(self):
        """``{path: None}`` of every rendered object file in both folders (read lazily)."""
        found = {}
        for folder in (self.manifests, self.secrets):
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if name.endswith(".yaml") and name != KUSTOMIZATION:
                        found[os.path.join(folder, name)] = None
        return found


def _write(path, text, private):
    """Write text to path in one step; private files are 0600 from the moment they exist."""
    write_atomically(path, text, mode=0o600 if private else None)


def _makedirs(folder, private):
    """The folder (and its parents); a private one and its parent (secrets/) only for their owner."""
    os.makedirs(folder, exist_ok=True)
    if private:
        for path in (os.path.dirname(folder), folder):
            os.chmod(path, 0o700)


def _private(path, mode):
    """Make an existing file or folder ``mode`` (0600, 0700); the mode it had, or None when it
    already was."""
    current = os.stat(path).st_mode & 0o7777
    if current == mode:
        return None
    os.chmod(path, mode)
    return current


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def render(target, desired, components, prune=True, check=False, generate=ko.generate_secret,
           secret_values=True):
    """Write ``desired`` (labelled, hashed, ordered objects) into ``target``.

    Returns ``[(obj, action, before, extra)]`` where action is ``written``, ``unchanged``,
    ``removed`` or (Secrets, without ``secret_values``) ``omitted``; ``before`` is the object
    previously in the file (for a diff), ``extra`` what to report (path; the generated Secret
    keys; the keys an omitted Secret must hold; a mode made private). With ``check`` nothing is
    written.
    """
    done = []
    wanted = {}
    if secret_values and os.path.isdir(target.secrets) and not check:
        for folder in (os.path.dirname(target.secrets), target.secrets):
            _private(folder, 0o700)
    for obj in desired:
        if is_secret(obj) and not secret_values:
            keys = sorted(set(obj.get("data") or {}) | set(obj.get("stringData") or {}) | ko.generated_keys(obj))
            done.append((obj, "omitted", None, {"keys": keys}))
            continue
        path = target.path(obj)
        current, previous = target.read(path)
        extra = {"path": path}
        if is_secret(obj):
            # What an earlier render generated is kept, as a cluster keeps it in the live Secret.
            generated = ko.fill_generated(obj, previous, generate)
            if generated:
                extra["generated"] = generated
        wanted[path] = obj
        text = dump(obj)
        if current == text:
            was = None if check or not is_secret(obj) else _private(path, 0o600)
            if was is not None:
                extra["mode"] = "%04o made 0600" % was
                done.append((obj, "written", previous, extra))
            else:
                done.append((obj, "unchanged", previous, extra))
            continue
        if not check:
            _makedirs(target.folder(obj), private=is_secret(obj))
            _write(path, text, private=is_secret(obj))
        done.append((obj, "written", previous, extra))
    if prune:
        for path in sorted(set(target.existing()) - set(wanted)):
            if not secret_values and os.path.dirname(path) == target.secrets:
                continue  # an earlier render's Secrets may hold the only copy of a password
            old = target.read(path)[1] or {}
            role = ((old.get("metadata") or {}).get("labels") or {}).get(ko.LABEL_ROLE)
            if role in components:
                if not check:
                    os.unlink(path)
                done.append((old, "removed", old, {"path": path}))
    if not check:
        _write_indexes(target, secret_values)
    return done


def _write_indexes(target, secret_values=True):
    """A kustomization in each folder that holds objects, and the .gitignore beside them."""
    for folder, private in ((target.manifests, False), (target.secrets, True)):
        if not os.path.isdir(folder) or (private and not secret_values):
            continue
        files = [n for n in os.listdir(folder) if n.endswith(".yaml") and n != KUSTOMIZATION]
        path = os.path.join(folder, KUSTOMIZATION)
        if not files:
            if os.path.exists(path):
                os.unlink(path)
            continue
        text = kustomization(files)
        if _read_text(path) != text:
            _write(path, text, private)
        elif private:
            _private(path, 0o600)
    ignore = os.path.join(target.root, ".gitignore")
    if os.path.isdir(target.root) and _read_text(ignore) != GITIGNORE:
        _write(ignore, GITIGNORE, private=False)
