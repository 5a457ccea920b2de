"""HttpClient over real loopback HTTP: retries, error mapping, verification, resume, credentials."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator

import pytest

from delegate.artifacts.base import (
    ArtifactAuthError,
    ArtifactError,
    ArtifactInvalid,
    ArtifactNotFound,
    ArtifactUnavailable,
)
from delegate.artifacts.http import Expected, HttpAuth, HttpClient, RetryPolicy, verified

from .fakes._server import Blob, FakeServer, Request, Response, json_response
from .fakes.files import FakeFileServer
from .testkit import POLICY, Sleeps, read_all

DATA = os.urandom(700_000)
SHA256 = hashlib.sha256(DATA).hexdigest()
SHA1 = hashlib.sha1(DATA, usedforsecurity=False).hexdigest()


def client(
    sleeps: Sleeps,
    *,
    base_url: str | None = None,
    auth: HttpAuth | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> HttpClient:
    return HttpClient(
        name="test server",
        base_url=base_url,
        auth=auth,
        retry=POLICY,
        sleep=sleeps,
        on_retry=on_retry,
        chunk_size=64 << 10,
    )


@pytest.fixture
def served(files: FakeFileServer) -> str:
    return files.put("dist/app.zip", DATA)


# --- verification ----------------------------------------------------------------------------------


def test_download_streams_the_exact_bytes_and_verifies_them(served: str, sleeps: Sleeps) -> None:
    with client(sleeps).download(
        served, subject="app", expect=Expected(sha256=SHA256.upper(), sha1=SHA1, size=len(DATA))
    ) as stream:
        assert read_all(stream) == DATA
    assert sleeps == []


@pytest.mark.parametrize(
    ("expect", "problem"),
    [
        (Expected(sha256="0" * 64), "sha256 mismatch"),
        (Expected(sha1="0" * 40), "sha1 mismatch"),
    ],
)
def test_mismatch_is_refused_at_end_of_stream(served: str, sleeps: Sleeps, expect: Expected, problem: str) -> None:
    with client(sleeps).download(served, subject="app", expect=expect) as stream:
        with pytest.raises(ArtifactInvalid, match=problem) as caught:
            read_all(stream)
        # Reading again does not turn the failure into a clean EOF.
        with pytest.raises(ArtifactInvalid):
            stream.read(1)
    assert "test server: app" in str(caught.value)


def test_one_digest_is_computed_sha256_before_sha1(served: str, sleeps: Sleeps) -> None:
    # SHA-1 is only the fallback: with a (correct) SHA-256 known, a SHA-1 is not computed at all.
    with client(sleeps).download(served, subject="app", expect=Expected(sha256=SHA256, sha1="0" * 40)) as stream:
        assert read_all(stream) == DATA


def test_a_size_other_than_promised_is_refused_before_the_transfer(
    files: FakeFileServer, served: str, sleeps: Sleeps
) -> None:
    expect = Expected(sha256=SHA256, size=len(DATA) + 1)
    refused = f"offers {len(DATA)} bytes, {len(DATA) + 1} were expected"
    with pytest.raises(ArtifactInvalid, match=refused), client(sleeps).download(served, subject="app", expect=expect):
        pass
    assert len(files.server.requests) == 1


def test_verified_wraps_any_stream() -> None:
    good = verified(io.BytesIO(DATA), expect=Expected(sha256=SHA256), label="s3 object")
    assert read_all(good) == DATA
    bad = verified(io.BytesIO(DATA[:-1] + b"x"), expect=Expected(sha256=SHA256), label="s3 object")
    with pytest.raises(ArtifactInvalid, match="s3 object: sha256 mismatch"):
        read_all(bad)


# --- status codes and retries ------------------------------------------------------------------------


def test_transient_errors_are_retried_with_full_jitter_backoff(
    files: FakeFileServer, served: str, sleeps: Sleeps
) -> None:
    files.server.faults.fail_next(2, 503)
    files.server.faults.fail_next(1, 502)
    with client(sleeps).download(served, subject="app", expect=Expected(sha256=SHA256)) as stream:
        assert read_all(stream) == DATA
    assert len(files.server.requests) == 4
    assert len(sleeps) == 3
    # Full jitter: attempt n waits uniform(0, min(max_wait, initial * 2**(n-1))).
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(POLICY.max_wait, POLICY.initial * 2 ** (attempt - 1))


def test_persistent_5xx_gives_up_after_max_attempts(files: FakeFileServer, served: str, sleeps: Sleeps) -> None:
    files.server.faults.fail_next(10, 500)
    with pytest.raises(ArtifactUnavailable) as caught, client(sleeps).download(served, subject="app"):
        pass
    assert len(files.server.requests) == POLICY.max_attempts
    assert len(sleeps) == POLICY.max_attempts - 1
    assert "after 4 attempts" in str(caught.value)
    assert "HTTP 500" in str(caught.value)


def test_server_down_is_unavailable_after_bounded_retries(closed_port: int, sleeps: Sleeps) -> None:
    lines: list[str] = []
    http = client(sleeps, on_retry=lines.append)
    with pytest.raises(ArtifactUnavailable) as caught:
        http.get_json(f"http://127.0.0.1:{closed_port}/api/json", subject="job 'x'")
    message = str(caught.value)
    assert message.startswith(f"test server: GET http://127.0.0.1:{closed_port}/api/json failed after 4 attempts")
    assert "refused" in message.lower()
    assert "\n" not in message
    assert len(sleeps) == 3
    assert len(lines) == 3
    assert "retrying in" in lines[0]
    assert "attempt 2 of 4" in lines[0]


def test_elapsed_time_bounds_retries_too(files: FakeFileServer, served: str, sleeps: Sleeps) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 50.0  # every look at the clock is 50 s later
        return now[0]

    files.server.faults.fail_next(10, 503)
    http = HttpClient(name="t", retry=RetryPolicy(max_attempts=10, max_elapsed=120.0), sleep=sleeps, clock=clock)
    with pytest.raises(ArtifactUnavailable), http.download(served, subject="app"):
        pass
    assert len(files.server.requests) < 10


@pytest.mark.parametrize(("status", "error"), [(401, ArtifactAuthError), (403, ArtifactAuthError)])
def test_auth_failures_are_not_retried(status: int, error: type[ArtifactError], sleeps: Sleeps) -> None:
    auth = HttpAuth.basic("deploy", "hunter2-value", secret_name="ci-token")
    with FakeServer(lambda request: json_response({"message": "nope"}, status)) as server:
        http = client(sleeps, base_url=server.url, auth=auth)
        with pytest.raises(error) as caught:
            http.get_json(server.url + "/api/json", subject="job 'x'")
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "user 'deploy' with secret 'ci-token'" in message
    assert "hunter2-value" not in message
    assert len(server.requests) == 1
    assert sleeps == []


def test_404_is_not_found_and_names_the_subject(files: FakeFileServer, sleeps: Sleeps) -> None:
    with pytest.raises(ArtifactNotFound, match=r"test server: build #7 not found: GET .*/nope.zip answered HTTP 404"):
        client(sleeps).get_json(files.url + "/nope.zip", subject="build #7")
    assert len(files.server.requests) == 1


def test_other_4xx_is_a_plain_error_with_the_servers_reason(sleeps: Sleeps) -> None:
    def app(request: Request) -> Response:
        return json_response({"errors": [{"status": 400, "message": "This REST API is available only in Pro"}]}, 400)

    with FakeServer(app) as server, pytest.raises(ArtifactError) as caught:
        client(sleeps).get_json(server.url + "/api/storage/r?list", subject="listing")
    assert type(caught.value) is ArtifactError
    assert "HTTP 400 (This REST API is available only in Pro)" in str(caught.value)


def test_a_non_json_answer_is_a_readable_error(files: FakeFileServer, sleeps: Sleeps) -> None:
    url = files.put("index.html", b"<html>\x00\x01 login page</html>")
    with pytest.raises(ArtifactError, match="did not return JSON"):
        client(sleeps).get_json(url, subject="job 'x'")


def test_messages_never_show_userinfo_or_query(sleeps: Sleeps, closed_port: int) -> None:
    with pytest.raises(ArtifactUnavailable) as caught:
        client(sleeps).get_json(f"http://bob:pa55@127.0.0.1:{closed_port}/x?token=abc", subject="x")
    assert "pa55" not in str(caught.value)
    assert "token=abc" not in str(caught.value)


# --- resume ------------------------------------------------------------------------------------------


def test_dropped_connection_resumes_with_range_and_gives_the_exact_bytes(
    files: FakeFileServer, served: str, sleeps: Sleeps
) -> None:
    files.server.faults.drop_next_bodies(after_bytes=100_000, times=2)
    with client(sleeps).download(served, subject="app", expect=Expected(sha256=SHA256, size=len(DATA))) as stream:
        assert read_all(stream) == DATA
    ranges = [(r.headers.get("range"), r.headers.get("if-range")) for r in files.server.requests]
    etag = files.files["dist/app.zip"].etag
    assert ranges == [(None, None), ("bytes=100000-", etag), ("bytes=200000-", etag)]
    assert len(sleeps) == 2


def test_without_range_support_it_refetches_and_skips_what_it_has(
    files: FakeFileServer, served: str, sleeps: Sleeps
) -> None:
    files.server.ranges = False
    files.server.faults.drop_next_bodies(after_bytes=300_000)
    with client(sleeps).download(served, subject="app", expect=Expected(sha256=SHA256)) as stream:
        assert read_all(stream) == DATA
    assert [r.headers.get("range") for r in files.server.requests] == [None, None]


def test_a_file_that_changes_mid_download_is_refused(files: FakeFileServer, served: str, sleeps: Sleeps) -> None:
    files.server.faults.drop_next_bodies(after_bytes=100_000)
    with client(sleeps).download(served, subject="app") as stream:
        first = stream.read(100_000)
        files.put("dist/app.zip", os.urandom(len(DATA)))  # replaced on the server: new ETag
        with pytest.raises(ArtifactUnavailable, match="changed on the server while downloading"):
            read_all(stream)
    assert first == DATA[:100_000]
    # If-Range made the server send the whole new file rather than a piece of it.
    assert files.server.requests[-1].headers.get("if-range") == Blob(DATA).etag


def test_drops_without_progress_give_up(files: FakeFileServer, served: str, sleeps: Sleeps) -> None:
    files.server.faults.drop_next_bodies(after_bytes=0, times=10)
    with client(sleeps).download(served, subject="app") as stream, pytest.raises(ArtifactUnavailable) as caught:
        read_all(stream)
    assert "download of" in str(caught.value)
    assert "at byte 0 of 700000" in str(caught.value)


def test_the_stream_holds_one_chunk_not_the_body(served: str, sleeps: Sleeps) -> None:
    http = client(sleeps)
    with http.download(served, subject="app") as stream:
        # read1 returns at most what one socket read produced: never more than the chunk size.
        sizes = []
        while piece := stream.read1(10 << 20):  # type: ignore[attr-defined]
            sizes.append(len(piece))
    assert sum(sizes) == len(DATA)
    assert max(sizes) <= 64 << 10


# --- credentials ------------------------------------------------------------------------------------


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    with FakeServer(lambda r: Response(body=Blob(DATA))) as other:

        def app(request: Request) -> Response:
            if request.path == "/redirect":
                return Response(302, headers={"Location": other.url + "/file.zip"})
            return Response(body=Blob(DATA))

        with FakeServer(app) as home:
            yield home, other


@pytest.mark.parametrize(
    "auth",
    [
        HttpAuth.basic("deploy", "pw-value", secret_name="pw"),
        HttpAuth.header("X-JFrog-Art-Api", "key-value", secret_name="key"),
    ],
)
def test_credentials_go_only_to_the_servers_origin(
    two_servers: tuple[FakeServer, FakeServer], sleeps: Sleeps, auth: HttpAuth
) -> None:
    home, other = two_servers
    http = client(sleeps, base_url=home.url, auth=auth)
    for url in (home.url + "/file.zip", home.url + "/redirect", other.url + "/direct.zip"):
        with http.download(url, subject="file") as stream:
            assert read_all(stream) == DATA
    ((name, value),) = auth.headers().items()
    assert [r.headers.get(name.lower()) for r in home.requests] == [value, value]
    assert [r.headers.get(name.lower()) for r in other.requests] == [None, None]
    assert "value" not in repr(auth)


def test_head_reports_size_and_range_support(served: str, sleeps: Sleeps) -> None:
    head = client(sleeps).head(served, subject="app")
    assert head.size == len(DATA)
    assert head.accept_ranges
    assert head.etag == Blob(DATA).etag


def test_head_unsupported_means_unknown_size(sleeps: Sleeps) -> None:
    def app(request: Request) -> Response:
        return Response(405) if request.method == "HEAD" else Response(body=Blob(DATA))

    with FakeServer(app) as server:
        head = client(sleeps).head(server.url + "/file.zip", subject="file")
    assert (head.size, head.accept_ranges, head.etag) == (None, False, None)
