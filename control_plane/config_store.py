"""Configuration documents in the store: load them as a ConfigSet, apply new ones all-or-nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass

from control_plane.store import Store
from control_plane.store.models import ConfigRow
from shared.config import ConfigSet, Document, document_from_dict


@dataclass(frozen=True)
class Applied:
    kind: str
    application: str
    name: str
    action: str  # created | updated | unchanged

    def to_dict(self) -> dict[str, str]:
        doc = {"kind": self.kind, "name": self.name, "action": self.action}
        if self.application:
            doc["application"] = self.application
        return doc


def load_config(store: Store) -> ConfigSet:
    return ConfigSet(document_from_dict(json.loads(row.document)) for row in store.list_config())


def plan_apply(current: ConfigSet, documents: list[Document]) -> tuple[ConfigSet, list[Applied]]:
    """Validate the merged configuration; returns it with what each document would do.

    Raises ConfigError (one line per problem) before anything is stored.
    """
    merged = current.merged(documents)
    merged.validate_references()
    actions = []
    for doc in documents:
        key = doc.key
        old = current.find(key.kind, key.name, key.application)
        if not old:
            action = "created"
        elif old[0].to_dict() == doc.to_dict():
            action = "unchanged"
        else:
            action = "updated"
        actions.append(Applied(key.kind, key.application, key.name, action))
    return merged, actions


def store_documents(store: Store, documents: list[Document], now: int) -> None:
    store.put_config(
        ConfigRow(d.key.kind, d.key.application, d.key.name, json.dumps(d.to_dict()), now) for d in documents
    )
