"""Fixtures for the emulator's own tests.

``emu`` is a fresh, started emulator per test (they start in well under a
second); ``emu_crds`` also has the CRDs of ``tests/crds`` preloaded.
``http`` talks to it with plain ``http.client`` so tests see real status
codes, headers and bodies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kube_emulator import Emulator, default_crd_dir  # noqa: E402
from support import Http  # noqa: E402


@pytest.fixture
def emu():
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def crd_dir() -> Path:
    """tests/crds (or ``$EDP_CRD_DIR``): part of the repository, so its absence is a failure."""
    path = default_crd_dir()
    if not path.is_dir() or not any(path.glob("*.yaml")):
        pytest.fail(f"no CRD files in {path}: tests/crds/ belongs to the repository "
                    "(scripts/crd_schemas.py writes it), or EDP_CRD_DIR names a wrong folder")
    return path


@pytest.fixture
def emu_crds(crd_dir):
    with Emulator(crd_dirs=[crd_dir]) as emulator:
        yield emulator


@pytest.fixture
def http(emu) -> Http:
    return Http(emu.url)


@pytest.fixture
def tool_env(tmp_path):
    """Environment for kubectl/ansible: fresh HOME and TMPDIR (discovery caches live there)."""
    from lib.short_tmp import short_tmpdir

    home = tmp_path / "home"
    tmp = short_tmpdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "K8S_AUTH"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), KUBECONFIG=str(tmp_path / "kubeconfig"))
    return env
