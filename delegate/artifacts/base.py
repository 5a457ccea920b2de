"""The interface every artifact source implements, and the errors it raises.

A source lists versions, resolves one (latest when no version is asked for) with its size and
checksum, and opens a byte stream of it. Sources do network I/O; nothing here does.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

from shared.payloads import ResolvedArtifact


class ArtifactError(Exception):
    """Root of artifact failures; the message is one readable line for the operator."""


class ArtifactNotFound(ArtifactError):
    """The asked-for version (or any version) does not exist at the source."""


class ArtifactAuthError(ArtifactError):
    """The source refused the credentials (401/403)."""


class ArtifactUnavailable(ArtifactError):
    """The source could not be reached or kept failing after retries (5xx, connection errors)."""


class ArtifactInvalid(ArtifactError):
    """The bytes are not what was promised: checksum mismatch, not a zip, too large unzipped..."""


class ArtifactSourceClient(Protocol):
    def list_versions(self, limit: int = 100) -> list[ResolvedArtifact]:
        """Every version the source reports, oldest first (the newest is last)."""

    def resolve(self, version: str | None) -> ResolvedArtifact:
        """The asked-for version, or the newest one; raises ArtifactNotFound."""

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        """A readable binary stream of the artifact's bytes, read in chunks by the caller."""
