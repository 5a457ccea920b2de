"""Task signatures: valid ones verify; any change to a signed field, another key or none are refused."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from shared.signing import (
    DOMAIN,
    InvalidTaskSignature,
    SigningKeyError,
    TaskSigner,
    TaskVerifier,
    canonical_task_bytes,
    load_or_create_signing_key,
    load_signing_key,
)

TASK: dict[str, Any] = {
    "task_id": "task-1",
    "type": "lambda.deploy",
    "payload": b'{"function": "shop-orders-dev"}',
    "execution_id": "exec-1",
    "timeout_ms": 900_000,
}


@pytest.fixture(scope="module")
def signer() -> TaskSigner:
    return TaskSigner.generate()


def test_valid_signature_verifies(signer: TaskSigner) -> None:
    signature = signer.sign(**TASK)
    assert len(signature) == 64
    TaskVerifier(signer.public_key_bytes()).verify(signature, **TASK)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payload", b'{"function": "shop-orders-prod"}'),
        ("payload", b""),
        ("type", "lambda.rollback"),
        ("task_id", "task-2"),
        ("execution_id", "exec-2"),
        ("timeout_ms", 900_001),
    ],
)
def test_altered_task_is_refused(signer: TaskSigner, field: str, value: object) -> None:
    signature = signer.sign(**TASK)
    with pytest.raises(InvalidTaskSignature, match="does not match") as caught:
        TaskVerifier(signer.public_key_bytes()).verify(signature, **{**TASK, field: value})
    shown_id = value if field == "task_id" else TASK["task_id"]
    assert str(caught.value).startswith(f"task {shown_id} ")  # the message names the task


def test_flipped_signature_bit_is_refused(signer: TaskSigner) -> None:
    signature = bytearray(signer.sign(**TASK))
    signature[10] ^= 0x01
    with pytest.raises(InvalidTaskSignature):
        TaskVerifier(signer.public_key_bytes()).verify(bytes(signature), **TASK)


def test_wrong_key_is_refused(signer: TaskSigner) -> None:
    other = TaskSigner.generate()
    with pytest.raises(InvalidTaskSignature, match="pinned key"):
        TaskVerifier(signer.public_key_bytes()).verify(other.sign(**TASK), **TASK)


def test_unsigned_task_is_refused(signer: TaskSigner) -> None:
    with pytest.raises(InvalidTaskSignature, match="task task-1 is not signed"):
        TaskVerifier(signer.public_key_bytes()).verify(b"", **TASK)


def test_truncated_signature_is_refused(signer: TaskSigner) -> None:
    with pytest.raises(InvalidTaskSignature, match="malformed signature"):
        TaskVerifier(signer.public_key_bytes()).verify(signer.sign(**TASK)[:63], **TASK)


def test_signature_is_deterministic_so_retries_reuse_it(signer: TaskSigner) -> None:
    # Ed25519 is deterministic; the attempt and lease token are not signed, so one signature made
    # at enqueue time is the signature of every attempt.
    assert signer.sign(**TASK) == signer.sign(**TASK)


def test_canonical_bytes_are_domain_separated_and_length_prefixed() -> None:
    encoded = canonical_task_bytes(**TASK)
    assert encoded.startswith(DOMAIN)
    shifted = {**TASK, "task_id": "task-1l", "type": "ambda.deploy"}
    assert canonical_task_bytes(**shifted) != encoded


text = st.text(max_size=20)


@given(
    a=st.tuples(text, text, st.binary(max_size=20), text, st.integers(-(2**63), 2**63 - 1)),
    b=st.tuples(text, text, st.binary(max_size=20), text, st.integers(-(2**63), 2**63 - 1)),
)
def test_property_different_tasks_encode_differently(
    a: tuple[str, str, bytes, str, int], b: tuple[str, str, bytes, str, int]
) -> None:
    def encode(fields: tuple[str, str, bytes, str, int]) -> bytes:
        task_id, type_, payload, execution_id, timeout_ms = fields
        return canonical_task_bytes(
            task_id=task_id, type=type_, payload=payload, execution_id=execution_id, timeout_ms=timeout_ms
        )

    assert (encode(a) == encode(b)) == (a == b)


def test_public_key_base64_round_trip(signer: TaskSigner) -> None:
    verifier = TaskVerifier.from_b64(signer.public_key_b64() + "\n")
    verifier.verify(signer.sign(**TASK), **TASK)
    assert len(verifier.key_id) == 16


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33])
def test_public_key_of_wrong_length_is_refused(bad: bytes) -> None:
    with pytest.raises(SigningKeyError, match="32 bytes"):
        TaskVerifier(bad)


def test_public_key_bad_base64_is_refused() -> None:
    with pytest.raises(SigningKeyError, match="base64"):
        TaskVerifier.from_b64("not base64!")


def test_load_or_create_writes_0600_and_reloads_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "task-signing.pem"
    first = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = load_or_create_signing_key(path)
    assert second.public_key_bytes() == first.public_key_bytes()
    TaskVerifier(first.public_key_bytes()).verify(second.sign(**TASK), **TASK)
    assert [p.name for p in path.parent.iterdir()] == ["task-signing.pem"]  # no temporary left


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "task-signing.pem"
    load_or_create_signing_key(path)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signing_key(path)


def test_non_ed25519_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        load_signing_key(path)


def test_garbage_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM private key"):
        load_signing_key(path)


def test_missing_key_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="cannot read task signing key"):
        load_signing_key(tmp_path / "missing.pem")
