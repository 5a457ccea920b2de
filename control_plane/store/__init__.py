"""Persistence for the control plane: one interface, SQLite and PostgreSQL implementations."""

from control_plane.store.base import Store, StoreError
from control_plane.store.factory import open_store

__all__ = ["Store", "StoreError", "open_store"]
