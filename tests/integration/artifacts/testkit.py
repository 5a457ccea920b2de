"""What the artifact tests share besides fixtures: secrets, a recording sleep, a fast retry policy,
and reading a stream the way fetch.py does (in chunks, never all at once)."""

from __future__ import annotations

from typing import BinaryIO

from delegate.artifacts.http import RetryPolicy

SECRETS = {
    "jenkins-token": "11aa22bb33cc44dd55ee66ff77",
    "artifactory-password": "s3cr3t-Passw0rd",
    "artifactory-api-key": "AKCp8jQ8bdVXamEQzGNqAbCdEf",
    "nexus-password": "nx-Pa55-word",
}

# Backoff numbers are real; the sleep is not (see Sleeps), so retries cost no time.
POLICY = RetryPolicy(max_attempts=4, initial=0.5, max_wait=4.0)

CHUNK = 64 << 10


class Sleeps(list[float]):
    """A `sleep` that records each delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def secret(name: str) -> str:
    return SECRETS[name]


def read_all(stream: BinaryIO, chunk: int = CHUNK) -> bytes:
    """Read to EOF in `chunk`-sized pieces (EOF is where checksums are verified)."""
    parts = []
    while piece := stream.read(chunk):
        assert len(piece) <= chunk
        parts.append(piece)
    return b"".join(parts)


def assert_no_secret_in(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text
