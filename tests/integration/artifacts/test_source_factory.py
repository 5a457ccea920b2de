"""make_source: which client each spec gets, how credentials are chosen, and configuration errors."""

from __future__ import annotations

import pytest

from delegate.artifacts.artifactory import ArtifactoryClient
from delegate.artifacts.base import ArtifactError, ArtifactSourceClient
from delegate.artifacts.custom import CustomScriptClient
from delegate.artifacts.factory import make_source
from delegate.artifacts.jenkins import JenkinsClient
from delegate.artifacts.nexus import NexusClient
from shared.payloads import (
    ArtifactorySource,
    ArtifactServerRef,
    CustomSource,
    JenkinsSource,
    NexusSource,
    S3Source,
)

from .fakes.artifactory import FakeArtifactory
from .fakes.jenkins import FakeJenkins
from .testkit import SECRETS, assert_no_secret_in, secret


def jenkins_ref(url: str = "https://ci.example.com", **fields: str) -> ArtifactServerRef:
    return ArtifactServerRef.model_validate({"name": "ci", "type": "jenkins", "url": url, **fields})


def test_each_spec_gets_its_client() -> None:
    server = jenkins_ref()
    assert isinstance(
        make_source(JenkinsSource(server=server, job="j", path="*.zip"), secrets=secret, s3_factory=None), JenkinsClient
    )
    arti = ArtifactServerRef(name="a", type="artifactory", url="https://a.example.com/artifactory")
    assert isinstance(
        make_source(ArtifactorySource(server=arti, repository="r", path="*.zip"), secrets=secret, s3_factory=None),
        ArtifactoryClient,
    )
    nexus = ArtifactServerRef(name="n", type="nexus", url="https://n.example.com")
    assert isinstance(
        make_source(NexusSource(server=nexus, repository="r", path="*.zip"), secrets=secret, s3_factory=None),
        NexusClient,
    )
    assert isinstance(
        make_source(CustomSource(script=["./list.sh"]), secrets=secret, s3_factory=None), CustomScriptClient
    )


def test_s3_comes_from_the_s3_factory() -> None:
    built: list[S3Source] = []
    marker = object()

    def s3_factory(spec: S3Source) -> ArtifactSourceClient:
        built.append(spec)
        return marker  # type: ignore[return-value]

    spec = S3Source(bucket="b", key="k/*.zip", region="us-east-1")
    assert make_source(spec, secrets=secret, s3_factory=s3_factory) is marker
    assert built == [spec]
    with pytest.raises(ArtifactError, match="S3 is not available here"):
        make_source(spec, secrets=secret, s3_factory=None)


def test_jenkins_api_token_goes_as_basic_auth(jenkins: FakeJenkins) -> None:
    jenkins.add_build("app", 1, artifacts={"app.zip": b"zip"})
    server = jenkins_ref(jenkins.url, username="deploy", token_secret="jenkins-token")
    client = make_source(JenkinsSource(server=server, job="app", path="*.zip"), secrets=secret, s3_factory=None)
    assert [v.version for v in client.list_versions()] == ["1"]
    assert jenkins.server.requests[0].basic_auth() == ("deploy", SECRETS["jenkins-token"])


@pytest.mark.parametrize("api_key", [True, False])
def test_artifactory_api_key_or_basic(artifactory: FakeArtifactory, api_key: bool) -> None:
    artifactory.put("repo", "a/app-1.zip", b"zip")
    fields = (
        {"tokenSecret": "artifactory-api-key"}
        if api_key
        else {
            "username": "deploy",
            "passwordSecret": "artifactory-password",
        }
    )
    server = ArtifactServerRef.model_validate({"name": "a", "type": "artifactory", "url": artifactory.url, **fields})
    client = make_source(
        ArtifactorySource(server=server, repository="repo", path="a/*.zip"), secrets=secret, s3_factory=None
    )
    assert len(client.list_versions()) == 1
    (request,) = artifactory.server.requests
    if api_key:
        assert request.headers.get("x-jfrog-art-api") == SECRETS["artifactory-api-key"]
        assert request.basic_auth() is None
    else:
        assert request.basic_auth() == ("deploy", SECRETS["artifactory-password"])


def test_anonymous_server_sends_no_credentials(jenkins: FakeJenkins) -> None:
    jenkins.users.clear()
    jenkins.add_build("app", 1, artifacts={"app.zip": b"zip"})
    client = make_source(
        JenkinsSource(server=jenkins_ref(jenkins.url), job="app", path="*.zip"), secrets=secret, s3_factory=None
    )
    client.list_versions()
    assert "authorization" not in jenkins.server.requests[0].headers


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"username": "deploy"}, "username 'deploy' needs passwordSecret or tokenSecret"),
        ({"tokenSecret": "jenkins-token"}, "secret 'jenkins-token' needs a username"),
    ],
)
def test_incomplete_credentials_are_configuration_errors(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(ArtifactError, match=problem):
        make_source(JenkinsSource(server=jenkins_ref(**fields), job="j", path="*"), secrets=secret, s3_factory=None)


def test_an_unresolvable_secret_is_an_artifact_error_naming_it() -> None:
    def secrets(name: str) -> str:
        raise LookupError(f"secret {name!r} not found; looked in: env OUTRIDER_SECRET_MISSING")

    server = jenkins_ref(username="deploy", password_secret="missing")
    with pytest.raises(ArtifactError, match="artifact server 'ci': secret 'missing' not found") as caught:
        make_source(JenkinsSource(server=server, job="j", path="*"), secrets=secrets, s3_factory=None)
    assert_no_secret_in(str(caught.value))


def test_a_server_of_another_type_is_refused() -> None:
    server = ArtifactServerRef(name="n", type="nexus", url="https://n.example.com")
    with pytest.raises(ArtifactError, match="artifact server 'n' is of type nexus, not jenkins"):
        make_source(JenkinsSource(server=server, job="j", path="*"), secrets=secret, s3_factory=None)
