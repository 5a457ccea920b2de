"""The AWS wrappers against moto over HTTP: assumed roles, secrets, multipart staging, operations."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto.sts.models import sts_backends

from delegate.aws import AwsFactory, AwsNotFound, CredentialProvider, StaticKeys
from delegate.aws.operations import OPERATIONS, check, required_iam_actions
from shared.payloads import AssumeRoleCredentials, InheritCredentials
from tests.integration.lambda_.lambda_kit import ACCOUNT, REGION, World, unique


def test_assume_role_with_external_id_is_cached_and_refreshed_before_expiry(moto_endpoint: str) -> None:
    now = [datetime.now(UTC)]
    seen: list[tuple[str, str, str]] = []
    provider = CredentialProvider(
        endpoint_url=moto_endpoint,
        base_keys=StaticKeys("testing", "testing"),
        on_credentials=lambda key, secret, token: seen.append((key, secret, token)),
        now=lambda: now[0],
    )
    aws = AwsFactory(provider, endpoint_url=moto_endpoint)
    session_name = unique("outrider")
    creds = AssumeRoleCredentials(
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/deployer", externalId="deploy-ext-1", sessionName=session_name
    )
    sts = aws.sts(creds, REGION)

    identity = sts.get_caller_identity()

    assert identity.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/{session_name}"
    assert len(seen) == 1
    [assumed] = [r for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.access_key_id == seen[0][0]]
    assert (assumed.external_id, assumed.session_name) == ("deploy-ext-1", session_name)
    assert (assumed.expiration - datetime.now(UTC).replace(tzinfo=None)) > timedelta(minutes=55)  # 1 h sessions

    # Cached: more calls and more wrappers reuse the same credentials.
    aws.sts(creds, REGION).get_caller_identity()
    assert provider.session(creds) is provider.session(creds)
    assert len(seen) == 1

    # 50 minutes later (10 minutes before expiry) the next call refreshes them first.
    now[0] += timedelta(minutes=50)
    assert sts.get_caller_identity().arn == identity.arn
    assert len(seen) == 2
    assert seen[1][0] != seen[0][0]


def test_secrets_manager_and_ssm_return_values_or_none(world: World) -> None:
    name = unique("db-password")
    world.boto("secretsmanager").create_secret(Name=name, SecretString="hunter2")
    world.boto("ssm").put_parameter(Name=f"/app/{name}", Value="p4ram", Type="SecureString")
    store = world.aws.secret_store(InheritCredentials(), REGION)

    assert store.get_secret_value(name) == "hunter2"
    assert store.get_secret_value(unique("missing")) is None
    assert store.get_parameter(f"/app/{name}") == "p4ram"
    assert store.get_parameter(f"/app/{unique('missing')}") is None


def test_multipart_upload_streams_a_file_in_parts(world: World, tmp_path: Path) -> None:
    bucket = world.create_bucket(unique("staging"))
    data = os.urandom(11 * 1024 * 1024)
    path = tmp_path / "big.zip"
    path.write_bytes(data)
    s3 = world.aws.s3(InheritCredentials(), REGION)

    s3.upload_file_multipart(str(path), bucket, "outrider/x/big.zip", part_size=5 * 1024 * 1024)

    obj = world.boto("s3").get_object(Bucket=bucket, Key="outrider/x/big.zip")
    assert obj["Body"].read() == data
    assert obj["ETag"].strip('"').endswith("-3")  # S3's multipart ETag: md5-of-md5s, dash, part count


def test_multipart_upload_to_a_missing_bucket_is_a_readable_not_found(world: World, tmp_path: Path) -> None:
    path = tmp_path / "small.zip"
    path.write_bytes(b"x")
    missing = unique("no-bucket")
    with pytest.raises(AwsNotFound, match=f"s3:CreateMultipartUpload on s3://{missing}/k failed: NoSuchBucket"):
        world.aws.s3(InheritCredentials(), REGION).upload_file_multipart(str(path), missing, "k")


def test_operations_are_declared_and_mapped_to_iam_actions() -> None:
    assert {"lambda:PublishVersion", "lambda:UpdateAlias", "s3:ListObjectVersions", "sts:AssumeRole"} <= OPERATIONS
    assert {"iam:PassRole", "s3:ListBucket", "s3:PutObject", "lambda:DeleteFunction"} <= required_iam_actions()
    with pytest.raises(AssertionError, match="lambda:InvokeFunction is not declared"):
        check("lambda:InvokeFunction")
