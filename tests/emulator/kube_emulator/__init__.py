"""An in-process Kubernetes API server emulator for tests (see README.md)."""

from .emulator import Emulator, load_crds

__all__ = ["Emulator", "load_crds"]
