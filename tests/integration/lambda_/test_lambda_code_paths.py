"""How code reaches Lambda (by reference, inline zip, staged) and what is refused before deploying."""

from __future__ import annotations

import base64
import hashlib

import pytest

from delegate.artifacts.base import ArtifactInvalid
from delegate.artifacts.fetch import CodeLimits
from delegate.lambda_ import DeployFailed, deploy
from delegate.lambda_.errors import CodeMismatch
from delegate.tasklog import ListTaskLog
from shared.payloads import LambdaDeployPayload, LambdaDeployResult
from tests.integration.lambda_.lambda_kit import (
    OTHER_REGION,
    World,
    app_zip,
    lines,
    make_zip,
    mask,
    never,
    payload,
    render_secrets,
    spec,
    unique,
)


def run(
    world: World, p: LambdaDeployPayload, source: object, log: ListTaskLog, limits: CodeLimits | None = None
) -> LambdaDeployResult:
    return deploy(
        p,
        aws=world.aws,
        source=source,  # type: ignore[arg-type]
        log=log,
        render_secrets=render_secrets,
        mask=mask,
        should_stop=never,
        limits=limits,
    )


def lambda_sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_same_region_s3_artifact_is_passed_by_reference(world: World) -> None:
    name, body = unique("fn"), app_zip("ref")
    art = world.artifact(body)
    log = ListTaskLog()

    run(world, payload("e1", art.resolved, art.source, [spec(name, world.role)]), art.source, log)

    assert world.lambda_.get_configuration(name).code_sha256 == lambda_sha(body)
    [fetch_line] = lines(log, "Fetch artifact")
    assert f"by reference to s3://{art.resolved.s3_bucket}/orders/orders-1.zip" in fetch_line
    assert "nothing downloaded" in fetch_line


def test_other_region_artifact_is_downloaded_verified_and_sent_inline(world: World) -> None:
    name, body = unique("fn"), app_zip("inline")
    art = world.artifact(body, region=OTHER_REGION)
    log = ListTaskLog()

    run(world, payload("e1", art.resolved, art.source, [spec(name, world.role)]), art.source, log)

    assert world.lambda_.get_configuration(name).code_sha256 == lambda_sha(body)
    text = lines(log, "Fetch artifact")
    assert any("downloading (not in S3 in us-east-1)" in line for line in text)
    assert any("(verified), valid zip" in line for line in text)
    assert any("inline zip upload" in line for line in lines(log, "Update code"))


def test_large_artifact_is_staged_by_multipart_upload_then_referenced(world: World) -> None:
    name, body = unique("fn"), app_zip("staged")
    art = world.artifact(body, region=OTHER_REGION)
    staging = world.create_bucket(unique("staging"))
    log = ListTaskLog()
    small = CodeLimits(direct_upload_max=len(body) - 1)

    run(
        world,
        payload("e-st", art.resolved, art.source, [spec(name, world.role)], stagingBucket=staging),
        art.source,
        log,
        small,
    )

    key = f"outrider/e-st/{hashlib.sha256(body).hexdigest()}.zip"
    staged = world.boto("s3").get_object(Bucket=staging, Key=key)["Body"].read()
    assert staged == body
    assert world.lambda_.get_configuration(name).code_sha256 == lambda_sha(body)
    assert any(f"staged at s3://{staging}/{key}" in line for line in lines(log))


def test_large_artifact_without_staging_bucket_is_refused_before_anything_changes(world: World) -> None:
    name, body = unique("fn"), app_zip("big")
    art = world.artifact(body, region=OTHER_REGION)

    with pytest.raises(DeployFailed) as raised:
        run(
            world,
            payload("e1", art.resolved, art.source, [spec(name, world.role)]),
            art.source,
            ListTaskLog(),
            CodeLimits(direct_upload_max=10),
        )

    assert isinstance(raised.value.__cause__, ArtifactInvalid)
    assert "set stagingBucket" in str(raised.value)
    assert world.lambda_.get_function(name) is None
    assert raised.value.result.rollback is None


def test_checksum_mismatch_is_refused_and_nothing_is_deployed(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("x"), region=OTHER_REGION)
    lying = art.resolved.model_copy(update={"sha256": "0" * 64})

    with pytest.raises(DeployFailed) as raised:
        run(world, payload("e1", lying, art.source, [spec(name, world.role)]), art.source, ListTaskLog())

    assert isinstance(raised.value.__cause__, ArtifactInvalid)
    assert f"SHA-256 mismatch: expected {'0' * 64}, downloaded {art.resolved.sha256}" in str(raised.value)
    assert world.lambda_.get_function(name) is None
    assert raised.value.result.snapshots == []


def test_not_a_zip_is_refused(world: World) -> None:
    name = unique("fn")
    art = world.artifact(b"#!/bin/sh\necho this is not a zip\n", region=OTHER_REGION)

    with pytest.raises(DeployFailed) as raised:
        run(world, payload("e1", art.resolved, art.source, [spec(name, world.role)]), art.source, ListTaskLog())

    assert isinstance(raised.value.__cause__, ArtifactInvalid)
    assert "is not a valid zip file" in str(raised.value)
    assert world.lambda_.get_function(name) is None


def test_zip_bomb_is_refused_from_its_declared_sizes(world: World) -> None:
    name = unique("fn")
    body = make_zip({"app.py": "0" * 50_000})  # compresses to a few hundred bytes
    art = world.artifact(body, region=OTHER_REGION)

    with pytest.raises(DeployFailed) as raised:
        run(
            world,
            payload("e1", art.resolved, art.source, [spec(name, world.role)]),
            art.source,
            ListTaskLog(),
            CodeLimits(unzipped_max=10_000),
        )

    assert "unzips to 0.0 MB, over Lambda's 0 MB limit" in str(raised.value)
    assert world.lambda_.get_function(name) is None


def test_missing_handler_file_is_refused_for_every_function_before_any_change(world: World) -> None:
    ok, broken = unique("fn-ok"), unique("fn-broken")
    art = world.artifact(app_zip("x"), region=OTHER_REGION)
    functions = [spec(ok, world.role), spec(broken, world.role, runtime="nodejs20.x", handler="index.handler")]

    with pytest.raises(DeployFailed) as raised:
        run(world, payload("e1", art.resolved, art.source, functions), art.source, ListTaskLog())

    assert f"function {broken}: handler 'index.handler' needs index.js or index.mjs or index.cjs" in str(raised.value)
    assert world.lambda_.get_function(ok) is None


def test_s3_checksum_that_lies_is_caught_by_lambdas_own_hash_and_rolled_back(world: World) -> None:
    name, body = unique("fn"), app_zip("real")
    bucket = world.create_bucket(unique("art"))
    # S3 keeps whatever full-object checksum the uploader declared (moto does not verify it either).
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    world.put(bucket, "orders/orders-1.zip", body, ChecksumAlgorithm="SHA256", ChecksumSHA256=wrong)
    source = world.source(bucket, "orders/*.zip")
    resolved = source.resolve(None)
    assert resolved.sha256 == hashlib.sha256(b"something else").hexdigest()  # taken from S3, not downloaded

    with pytest.raises(DeployFailed) as raised:
        run(world, payload("e1", resolved, source, [spec(name, world.role)]), source, ListTaskLog())

    assert isinstance(raised.value.__cause__, CodeMismatch)
    assert "refusing to publish it" in str(raised.value)
    assert raised.value.result.rollback is not None
    assert raised.value.result.rollback.deleted == [name]
    assert world.lambda_.get_function(name) is None
