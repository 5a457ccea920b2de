"""The custom-script source: a real subprocess printing JSON, downloads over loopback HTTP or a fake S3."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest

from delegate.artifacts.base import (
    ArtifactError,
    ArtifactInvalid,
    ArtifactNotFound,
    ArtifactSourceClient,
)
from delegate.artifacts.custom import CustomScriptClient
from delegate.artifacts.factory import make_source
from delegate.artifacts.http import HttpClient
from shared.payloads import AssumeRoleCredentials, CustomSource, ResolvedArtifact, S3Source

from .fakes.files import FakeFileServer
from .testkit import POLICY, Sleeps, read_all, secret

SCRIPT = str(Path(__file__).parent / "fakes" / "custom_script.py")


class FakeS3:
    """Stands in for the S3 source: records the specs it was built with, serves bytes per key."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.specs: list[S3Source] = []

    def __call__(self, spec: S3Source) -> ArtifactSourceClient:
        self.specs.append(spec)
        return self  # type: ignore[return-value]

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        @contextmanager
        def stream() -> Iterator[BinaryIO]:
            yield io.BytesIO(self.objects[artifact.s3_key or ""])

        return stream()


def printing(tmp_path: Path, document: object, **spec: object) -> CustomSource:
    """A source whose script prints `document` (JSON-encoded unless it is already a string)."""
    output = tmp_path / "versions.json"
    output.write_text(document if isinstance(document, str) else json.dumps(document))
    return CustomSource.model_validate({"script": [sys.executable, SCRIPT, "print", str(output)], **spec})


def build(spec: CustomSource, sleeps: Sleeps, s3: FakeS3 | None = None) -> ArtifactSourceClient:
    return make_source(spec, secrets=secret, s3_factory=s3, retry=POLICY, sleep=sleeps)


def test_versions_from_url_and_s3_entries(tmp_path: Path, files: FakeFileServer, sleeps: Sleeps) -> None:
    zip_one, zip_two = os.urandom(30_000), os.urandom(30_000)
    document = {
        "versions": [
            {
                "version": "1.1.0",
                "s3": {"bucket": "builds", "key": "orders/1.1.0.zip", "versionId": "v7"},
                "sha256": hashlib.sha256(zip_two).hexdigest(),
                "createdAt": "2024-03-02T10:00:00Z",
            },
            {
                "version": "1.0.0",
                "url": files.put("orders-1.0.0.zip", zip_one),
                "sha256": hashlib.sha256(zip_one).hexdigest().upper(),
                "size": len(zip_one),
                "createdAt": "2024-03-01T10:00:00+00:00",
            },
        ]
    }
    s3 = FakeS3({"orders/1.1.0.zip": zip_two})
    role = AssumeRoleCredentials(role_arn="arn:aws:iam::123456789012:role/reader")
    client = build(printing(tmp_path, document, region="eu-west-1", credentials=role), sleeps, s3)

    versions = client.list_versions()
    assert [v.version for v in versions] == ["1.0.0", "1.1.0"]  # ordered by createdAt
    assert versions[0].sha256 == hashlib.sha256(zip_one).hexdigest()
    latest = client.resolve(None)
    assert (latest.s3_bucket, latest.s3_key, latest.s3_version_id, latest.s3_region) == (
        "builds",
        "orders/1.1.0.zip",
        "v7",
        "eu-west-1",
    )
    with client.open(latest) as stream:
        assert read_all(stream) == zip_two
    (spec,) = s3.specs
    assert (spec.bucket, spec.region, spec.credentials) == ("builds", "eu-west-1", role)
    with client.open(client.resolve("1.0.0")) as stream:
        assert read_all(stream) == zip_one


def test_a_bare_list_in_script_order_is_oldest_first(tmp_path: Path, sleeps: Sleeps) -> None:
    document = [{"version": v, "url": f"https://cdn.example.com/{v}.zip"} for v in ("b", "a", "c")]
    client = build(printing(tmp_path, document), sleeps)
    assert [v.version for v in client.list_versions()] == ["b", "a", "c"]
    assert [v.version for v in client.list_versions(limit=1)] == ["c"]
    assert client.resolve(None).version == "c"
    with pytest.raises(ArtifactNotFound, match="did not list version 'd'"):
        client.resolve("d")


def test_sha256_from_the_script_is_verified_for_s3_objects(tmp_path: Path, sleeps: Sleeps) -> None:
    document = [{"version": "1", "s3": {"bucket": "b", "key": "k.zip", "region": "us-east-1"}, "sha256": "ab" * 32}]
    client = build(printing(tmp_path, document), sleeps, FakeS3({"k.zip": b"not what was promised"}))
    with client.open(client.resolve("1")) as stream, pytest.raises(ArtifactInvalid, match="sha256 mismatch"):
        read_all(stream)


def test_sha256_from_the_script_is_verified_for_urls(tmp_path: Path, files: FakeFileServer, sleeps: Sleeps) -> None:
    url = files.put("app.zip", b"zip bytes")
    client = build(printing(tmp_path, [{"version": "1", "url": url, "sha256": "00" * 32}]), sleeps)
    with client.open(client.resolve("1")) as stream, pytest.raises(ArtifactInvalid):
        read_all(stream)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([{"version": "1"}], r"versions\[0\]: needs exactly one of 'url' and 's3'"),
        ([{"version": 1, "url": "https://x/1.zip"}], r"versions\[0\]\.version: Input should be a valid string"),
        ([{"version": "1", "url": "file:///etc/passwd"}], r"'url' must be an http:// or https:// URL"),
        ([{"version": "1", "url": "https://x/1.zip", "sha265": "ab"}], r"versions\[0\]\.sha265: Extra inputs"),
        ([{"version": "1", "url": "https://x/1.zip", "sha256": "abc"}], r"versions\[0\]\.sha256: String should"),
        ([{"version": "1", "url": "https://x/1.zip", "size": -1}], r"versions\[0\]\.size"),
        ([{"version": "1", "url": "https://x/1.zip", "createdAt": "last tuesday"}], "not an ISO-8601 timestamp"),
        ([{"version": "1", "url": "https://x/1"}, {"version": "1", "url": "https://x/2"}], "version '1' twice"),
        ([{"version": "1", "s3": {"bucket": "b", "key": "k"}}], r"versions\[0\]\.s3 has no region"),
        ({"artifacts": []}, "versions: Field required"),
        ('{"versions": [', "printed invalid JSON"),
    ],
)
def test_malformed_output_is_one_readable_error(tmp_path: Path, sleeps: Sleeps, document: object, problem: str) -> None:
    with pytest.raises(ArtifactError, match=problem) as caught:
        build(printing(tmp_path, document), sleeps).list_versions()
    message = str(caught.value)
    assert message.startswith(f"custom script {sys.executable!r}: ")
    assert "\n" not in message


def test_plain_text_output_is_malformed_json(sleeps: Sleeps) -> None:
    client = build(CustomSource(script=[sys.executable, SCRIPT, "garbage"]), sleeps)
    with pytest.raises(ArtifactError, match=r"printed invalid JSON .*'Found 3 artifacts: app-1\.zip"):
        client.list_versions()


def test_non_zero_exit_reports_status_and_stderr_tail(sleeps: Sleeps) -> None:
    client = build(CustomSource(script=[sys.executable, SCRIPT, "fail"]), sleeps)
    with pytest.raises(ArtifactError) as caught:
        client.resolve(None)
    assert str(caught.value).endswith(
        "exited with status 3; stderr: listing artifacts... | error: bucket access denied (token expired)"
    )


def test_timeout_kills_the_script_and_its_children(tmp_path: Path, sleeps: Sleeps) -> None:
    pid_file = tmp_path / "child.pid"
    client = build(CustomSource(script=[sys.executable, SCRIPT, "hang", str(pid_file)], timeout_seconds=1), sleeps)
    started = time.monotonic()
    with pytest.raises(ArtifactError, match="timed out after 1s and was killed; stderr: waiting for the artifact"):
        client.list_versions()
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    # The grandchild was in the script's process group and got the same SIGKILL; it may linger as a
    # zombie of its (dead) parent only until init reaps it, so wait for that without guessing a time.
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return status not in ("Z", "X")


def test_a_missing_script_is_a_clear_error(sleeps: Sleeps) -> None:
    client = build(CustomSource(script=["/nonexistent/list-artifacts.sh"]), sleeps)
    with pytest.raises(ArtifactError, match=re.escape("'/nonexistent/list-artifacts.sh': cannot start: No such file")):
        client.list_versions()


def test_configuration_is_passed_as_argv_never_through_a_shell(tmp_path: Path, sleeps: Sleeps) -> None:
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); touch {marker}"
    client = build(CustomSource(script=[sys.executable, SCRIPT, "env", hostile]), sleeps)
    assert client.list_versions()[0].version == "<unset>"  # the argument arrived verbatim, as a name
    assert not marker.exists()


def test_the_delegate_token_is_withheld_and_the_region_given(sleeps: Sleeps) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "OUTRIDER_DELEGATE_TOKEN": "dt-secret", "KEEP": "yes"}
    spec = CustomSource(script=[sys.executable, SCRIPT, "env", "OUTRIDER_DELEGATE_TOKEN"], region="ap-south-1")
    http = HttpClient(name="custom", retry=POLICY, sleep=sleeps)
    assert CustomScriptClient(spec, http=http, s3_open=None, env=env).list_versions()[0].version == "<unset>"
    spec = CustomSource(script=[sys.executable, SCRIPT, "env", "AWS_REGION"], region="ap-south-1")
    assert CustomScriptClient(spec, http=http, s3_open=None, env=env).list_versions()[0].version == "ap-south-1"
    spec = CustomSource(script=[sys.executable, SCRIPT, "env", "KEEP"])
    assert CustomScriptClient(spec, http=http, s3_open=None, env=env).list_versions()[0].version == "yes"


def test_s3_versions_without_s3_available_fail_clearly(tmp_path: Path, sleeps: Sleeps) -> None:
    document = [{"version": "1", "s3": {"bucket": "b", "key": "k.zip", "region": "us-east-1"}}]
    client = build(printing(tmp_path, document), sleeps, s3=None)
    with pytest.raises(ArtifactError, match="is in S3, but S3 is not available"), client.open(client.resolve("1")):
        pass
