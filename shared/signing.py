"""Ed25519 signatures over tasks, so a tampered queue row cannot make a delegate act.

The control plane signs each task once, when it is enqueued; delegates verify against a public key
pinned in their configuration and refuse unsigned or altered tasks.

What is signed: task id, type, payload, execution id and timeout. The attempt number and the lease
token are deliberately NOT signed. The lease token is a fencing credential the queue issues per
attempt, not task content; a row's attempt counter changes on every retry. Leaving both out lets the
signature be made once at enqueue time (the signing key is needed only there) and stay valid across
attempts, while everything that decides what the delegate does is covered. Binding the task id and
execution id stops a signed payload from being replayed under another task or execution.

Canonical form: a domain-separation prefix (so a signature over a task can never be valid for any
other message this key might sign), then each field as an 8-byte big-endian length followed by its
bytes, in a fixed order. Length prefixes make the encoding injective: no two different tasks produce
the same bytes, whatever characters the fields contain.

I/O: only the key file helpers read and write files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DOMAIN = b"outrider-task-v1\x00"
SIGNATURE_LENGTH = 64
PUBLIC_KEY_LENGTH = 32


class SigningError(Exception):
    """Root of task-signing failures; the message is one readable line."""


class InvalidTaskSignature(SigningError):
    """The task is unsigned, or its signature does not match its content and the pinned key."""


class SigningKeyError(SigningError):
    """A key file or public key is missing, malformed, of the wrong type, or readable by others."""


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def canonical_task_bytes(*, task_id: str, type: str, payload: bytes, execution_id: str, timeout_ms: int) -> bytes:
    """The exact bytes that are signed for a task (keyword-only: three of the fields are strings)."""
    return b"".join(
        (
            DOMAIN,
            _field(task_id.encode("utf-8")),
            _field(type.encode("utf-8")),
            _field(bytes(payload)),
            _field(execution_id.encode("utf-8")),
            timeout_ms.to_bytes(8, "big", signed=True),
        )
    )


def key_id(public_key_bytes: bytes) -> str:
    """A short fingerprint of a public key for logs and `outrider` output (not a security boundary)."""
    return hashlib.sha256(public_key_bytes).hexdigest()[:16]


class TaskSigner:
    """Signs tasks with the control plane's private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def generate(cls) -> TaskSigner:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, *, task_id: str, type: str, payload: bytes, execution_id: str, timeout_ms: int) -> bytes:
        """The 64-byte signature to store with the task row."""
        return self._key.sign(
            canonical_task_bytes(
                task_id=task_id, type=type, payload=payload, execution_id=execution_id, timeout_ms=timeout_ms
            )
        )

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte public key delegates pin."""
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def public_key_b64(self) -> str:
        """The public key as one base64 line, convenient for a flag or environment variable."""
        return base64.b64encode(self.public_key_bytes()).decode("ascii")

    def private_key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


class TaskVerifier:
    """Checks task signatures against one pinned public key."""

    def __init__(self, public_key_bytes: bytes) -> None:
        if len(public_key_bytes) != PUBLIC_KEY_LENGTH:
            raise SigningKeyError(
                f"task signing public key must be {PUBLIC_KEY_LENGTH} bytes, got {len(public_key_bytes)}"
            )
        self._key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
        self.key_id = key_id(public_key_bytes)

    @classmethod
    def from_b64(cls, text: str) -> TaskVerifier:
        """A verifier from the base64 form printed by `TaskSigner.public_key_b64`."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise SigningKeyError("task signing public key is not valid base64") from None
        return cls(raw)

    def verify(
        self, signature: bytes, *, task_id: str, type: str, payload: bytes, execution_id: str, timeout_ms: int
    ) -> None:
        """Return if the signature is valid, else raise InvalidTaskSignature naming the task."""
        if not signature:
            raise InvalidTaskSignature(f"task {task_id} is not signed; refusing it")
        if len(signature) != SIGNATURE_LENGTH:
            raise InvalidTaskSignature(
                f"task {task_id} has a malformed signature ({len(signature)} bytes); refusing it"
            )
        message = canonical_task_bytes(
            task_id=task_id, type=type, payload=payload, execution_id=execution_id, timeout_ms=timeout_ms
        )
        try:
            self._key.verify(bytes(signature), message)
        except InvalidSignature:
            raise InvalidTaskSignature(
                f"task {task_id} signature does not match its content and the pinned key {self.key_id}; refusing it"
            ) from None


# --- key files ------------------------------------------------------------------------------------


def load_signing_key(path: Path) -> TaskSigner:
    """Load a PEM (PKCS#8, unencrypted) Ed25519 private key; refuse files others can read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read task signing key {path}: {exc.strerror}") from None
    # Like ssh: a key the group or others can read is treated as compromised configuration.
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"task signing key {path} is accessible by others; run: chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"task signing key {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"task signing key {path} is not an Ed25519 key")
    return TaskSigner(key)


def save_signing_key(signer: TaskSigner, path: Path) -> None:
    """Write the key to `path` with mode 0600, failing if the file already exists."""
    _publish_private_file(path, signer.private_key_pem())


def load_or_create_signing_key(path: Path) -> TaskSigner:
    """Load the key at `path`, or generate one and write it there (0600) on first start.

    Safe when two processes start at once: the file is published with a hard link, which fails if
    another process won, and then the winner's key is loaded, so both end up with the same key.
    """
    if path.exists():
        return load_signing_key(path)
    with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
        save_signing_key(TaskSigner.generate(), path)
    return load_signing_key(path)


def _publish_private_file(path: Path, data: bytes) -> None:
    # Written in full to a private temporary file first, so no reader ever sees a partial key and
    # the mode is 0600 from creation (never briefly world-readable).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # unlike rename, fails with FileExistsError instead of replacing
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
