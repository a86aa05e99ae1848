"""Shared test set-up: make `ansible_collections.edp.platform` importable from the checkout."""

import pathlib

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

REPO = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / "collections"

_AnsibleCollectionFinder(paths=[str(COLLECTIONS)])._install()
