"""Tests of the Kubernetes API emulator (a package so its conftest does not shadow tests/conftest.py)."""
