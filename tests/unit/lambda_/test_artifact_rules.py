"""Pure rules of the S3 source and code fetching: version order, prefixes, handler files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from delegate.artifacts.base import ArtifactInvalid
from delegate.artifacts.fetch import CodeRef, b64_to_hex, check_handler, handler_candidates, hex_to_b64
from delegate.artifacts.s3 import literal_prefix, order_candidates
from delegate.aws.lambda_types import CodeLocation
from delegate.aws.s3_client import S3ObjectVersion

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def obj(key: str, version: str | None, latest: bool, when: datetime) -> S3ObjectVersion:
    return S3ObjectVersion(key=key, version_id=version, is_latest=latest, last_modified=when, size=1)


def test_literal_prefix_stops_at_the_first_wildcard() -> None:
    assert literal_prefix("orders/orders-*.zip") == "orders/orders-"
    assert literal_prefix("a/b?/c") == "a/b"
    assert literal_prefix("a/[0-9].zip") == "a/"
    assert literal_prefix("exact/key.zip") == "exact/key.zip"


def test_versions_are_ordered_by_time_then_s3_order_then_natural_key() -> None:
    listing = [
        # S3 lists each key's versions newest first; these share one second.
        obj("o/app-10.zip", "v3", True, T0),
        obj("o/app-10.zip", "v2", False, T0),
        obj("o/app-9.zip", None, True, T0),
        obj("o/app-1.zip", None, True, T1),
        obj("o/readme.txt", None, True, T1),
    ]

    ordered = order_candidates(listing, "o/app-*.zip")

    assert [c.version for c in ordered] == ["o/app-9.zip", "o/app-10.zip@v2", "o/app-10.zip", "o/app-1.zip"]


def test_star_crosses_slashes_and_matching_is_case_sensitive() -> None:
    listing = [obj("o/sub/app.zip", None, True, T0), obj("o/APP.ZIP", None, True, T0)]
    assert [c.version for c in order_candidates(listing, "o/*.zip")] == ["o/sub/app.zip"]


@pytest.mark.parametrize(
    ("runtime", "handler", "files"),
    [
        ("python3.12", "app.handler", ("app.py", "app/__init__.py")),
        ("python3.12", "pkg.mod.handler", ("pkg/mod.py", "pkg/mod/__init__.py")),
        ("python3.11", "src/app.handler", ("src/app.py", "src/app/__init__.py")),
        ("nodejs20.x", "index.handler", ("index.js", "index.mjs", "index.cjs")),
        ("ruby3.3", "function.handler", ("function.rb",)),
        ("python3.12", "nodot", ()),
    ],
)
def test_handler_files(runtime: str, handler: str, files: tuple[str, ...]) -> None:
    assert handler_candidates(runtime, handler) == files


def test_compiled_runtimes_are_not_checked() -> None:
    assert handler_candidates("java21", "com.example.Handler::handleRequest") is None
    assert handler_candidates("provided.al2023", "bootstrap") is None


def ref(members: frozenset[str] | None) -> CodeRef:
    return CodeRef(
        location=CodeLocation(zip_file=b"z"),
        sha256_b64=hex_to_b64("ab" * 32),
        size=1,
        how="zip-upload",
        members=members,
    )


def test_check_handler_accepts_present_and_unseen_zips_and_names_what_is_missing() -> None:
    check_handler(ref(frozenset({"app.py"})), function="f", runtime="python3.12", handler="app.handler")
    check_handler(ref(None), function="f", runtime="python3.12", handler="missing.handler")  # by reference
    with pytest.raises(
        ArtifactInvalid, match=r"function f: handler 'main\.handler' needs main\.py or main/__init__\.py"
    ):
        check_handler(ref(frozenset({"app.py"})), function="f", runtime="python3.12", handler="main.handler")
    with pytest.raises(ArtifactInvalid, match=r"is not MODULE\.FUNCTION"):
        check_handler(ref(frozenset({"app.py"})), function="f", runtime="nodejs20.x", handler="index")


def test_checksum_forms_and_descriptions() -> None:
    assert b64_to_hex(hex_to_b64("ab" * 32)) == "ab" * 32
    assert ref(None).describe() == "inline zip upload (0.0 MB)"
    s3 = CodeRef(
        location=CodeLocation(s3_bucket="b", s3_key="k.zip", s3_object_version="v1"),
        sha256_b64=hex_to_b64("00" * 32),
        size=3 * 1024 * 1024,
        how="staged",
    )
    assert s3.describe() == "staged at s3://b/k.zip version v1 (3.0 MB)"
    assert repr(CodeLocation(zip_file=b"x" * 10)) == "CodeLocation(zip_file=<10 bytes>)"
    with pytest.raises(ValueError, match="either zip_file or s3_bucket"):
        CodeLocation()
