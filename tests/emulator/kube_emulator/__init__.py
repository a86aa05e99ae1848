"""An in-process Kubernetes API server emulator for tests (see README.md)."""

from .emulator import Emulator, default_crd_dir, load_crds

__all__ = ["Emulator", "default_crd_dir", "load_crds"]
