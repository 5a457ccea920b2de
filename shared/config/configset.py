"""`ConfigSet`: the whole stored configuration, an immutable collection of validated documents.

Documents are keyed by (kind, application, name); application is "" for kinds that are not
application-scoped. `apply` is meant to go: parse the files, `stored.merged(new)` (new documents replace
same-key ones), `validate_references()` on the result, and only then store anything, so a configuration
that refers to something missing is never half-applied. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from shared.config.errors import ConfigValidationError, UnknownObjectError, missing_object
from shared.config.loader import check_duplicates
from shared.config.models import KINDS, Document, DocumentBase, DocumentKey
from shared.config.references import reference_errors

__all__ = ["ConfigSet", "normalize_kind"]

D = TypeVar("D", bound=DocumentBase)


def normalize_kind(text: str) -> str:
    """A kind as users type it on the command line (`service`, `Services`, `cloudprovider`) -> `Service`."""
    wanted = text.strip().lower()
    for kind in KINDS:
        if wanted in (kind.lower(), kind.lower() + "s"):
            return kind
    raise UnknownObjectError(f'unknown kind "{text}" (expected one of: {", ".join(KINDS)})')


class ConfigSet:
    """Validated documents keyed by (kind, application, name), in insertion order."""

    def __init__(self, documents: Iterable[Document] = ()) -> None:
        """Raises `ConfigValidationError` if two documents share a key."""
        docs = list(documents)
        errors = check_duplicates(docs)
        if errors:
            raise ConfigValidationError(errors)
        self._documents: dict[DocumentKey, Document] = {doc.key: doc for doc in docs}

    @property
    def documents(self) -> list[Document]:
        return list(self._documents.values())

    def __iter__(self) -> Iterator[Document]:
        return iter(self._documents.values())

    def __len__(self) -> int:
        return len(self._documents)

    def __contains__(self, key: object) -> bool:
        return key in self._documents

    def get(self, kind: type[D], name: str, application: str = "") -> D | None:
        """The document of this kind and name (and application, for application-scoped kinds)."""
        document = self._documents.get(DocumentKey(kind.kind_name(), application, name))
        return document if isinstance(document, kind) else None

    def require(self, kind: type[D], name: str, application: str = "") -> D:
        """Like `get`, raising `UnknownObjectError` when there is no such document."""
        document = self.get(kind, name, application)
        if document is None:
            raise UnknownObjectError(missing_object(kind.kind_name(), name, application))
        return document

    def of_kind(self, kind: type[D], application: str | None = None) -> list[D]:
        """Every document of a kind, optionally only those of one application."""
        return [
            doc
            for doc in self._documents.values()
            if isinstance(doc, kind) and (application is None or doc.application_name == application)
        ]

    def find(self, kind: str, name: str | None = None, application: str | None = None) -> list[Document]:
        """`outrider get KIND [NAME] [--app APP]`: kind as typed by a user (see `normalize_kind`)."""
        cls = KINDS[normalize_kind(kind)]
        return [doc for doc in self.of_kind(cls, application) if name is None or doc.name == name]

    def merged(self, new_documents: Iterable[Document]) -> ConfigSet:
        """A new set where new documents replace same-key ones and others are added.

        Raises `ConfigValidationError` if new_documents holds the same key twice (one apply may not
        define an object twice). References are not checked: call `validate_references` on the result.
        """
        new = list(new_documents)
        errors = check_duplicates(new)
        if errors:
            raise ConfigValidationError(errors)
        merged = dict(self._documents)
        merged.update((doc.key, doc) for doc in new)
        return ConfigSet(merged.values())

    def validate_references(self) -> None:
        """Check every reference and every workflow's rendering; raise `ConfigValidationError` listing
        all problems found. See `references.py` for what is checked."""
        errors = reference_errors(self)
        if errors:
            raise ConfigValidationError(errors)
