"""Rendering workflows into task payloads: overrides, defaults, expressions, credentials, selectors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from config_examples import (
    CLOUD_PROVIDER,
    ENVIRONMENT,
    SERVICE,
    SOURCE,
    WORKFLOW,
    config_from,
    contract_dicts,
    function,
    infrastructure,
)

from shared.config import (
    ConfigSet,
    ConfigValidationError,
    UnknownObjectError,
    render_artifact_source,
    render_deployment,
)
from shared.payloads import (
    ArtifactorySource,
    AssumeRoleCredentials,
    CustomSource,
    InheritCredentials,
    JenkinsSource,
    LambdaDeployPayload,
    NexusSource,
    ResolvedArtifact,
    S3Source,
)

ARTIFACT = ResolvedArtifact(version="orders/orders-42.zip", sha256="ab" * 32)
Docs = list[dict[str, Any]]


def _deploy(
    documents: Docs, variables: dict[str, str] | None = None, execution_id: str = "ex-1"
) -> LambdaDeployPayload:
    config = config_from(documents)
    config.validate_references()
    return render_deployment(config, "shop", "orders-dev", execution_id, ARTIFACT, variables or {}).payload


def _add_provider(documents: Docs, name: str, selectors: list[str], role: str | None = None) -> None:
    spec: dict[str, Any] = {"type": "aws", "delegateSelectors": selectors}
    if role:
        spec["credentials"] = {"assumeRole": {"roleArn": role}}
    documents.insert(CLOUD_PROVIDER + 1, {"kind": "CloudProvider", "name": name, "spec": spec})


def test_contract_example_renders_the_documented_deployment() -> None:
    config = config_from(contract_dicts())
    rendered = render_deployment(config, "shop", "orders-dev", "ex-1", ARTIFACT, {})

    assert (rendered.service, rendered.environment, rendered.infrastructure) == ("orders", "dev", "default")
    assert rendered.rollback_on_failure is True
    assert rendered.selectors == ["dev"]
    payload = rendered.payload
    assert payload.execution_id == "ex-1"
    assert payload.region == "us-east-1"
    assert payload.staging_bucket == "shop-lambda-staging"
    assert payload.artifact == ARTIFACT
    assert payload.credentials == AssumeRoleCredentials(
        role_arn="arn:aws:iam::123456789012:role/deployer", external_id="deploy-ext-1"
    )
    assert payload.artifact_source == S3Source(
        bucket="shop-artifacts", key="orders/orders-*.zip", region="us-east-1", credentials=payload.credentials
    )
    (fn,) = payload.functions
    assert fn.name == "shop-orders-dev"  # the default name template
    assert fn.role == "arn:aws:iam::123456789012:role/lambda-exec"
    assert (fn.runtime, fn.handler, fn.timeout, fn.architecture) == ("python3.12", "app.handler", 3, "x86_64")
    assert fn.memory_size == 256  # the environment's override
    assert fn.environment == {"LOG_LEVEL": "debug"}  # merged over the service's "info"
    assert fn.aliases == ["dev"]
    assert fn.tags == {"team": "orders"}
    assert fn.vpc is not None
    assert (fn.vpc.subnet_ids, fn.vpc.security_group_ids) == (["subnet-0a1b"], ["sg-0c2d"])
    # The payload is what the delegate validates: it must survive its JSON round trip.
    assert LambdaDeployPayload.model_validate_json(payload.model_dump_json(by_alias=True)) == payload


def test_override_merges_maps_and_replaces_scalars_and_aliases() -> None:
    documents = contract_dicts()
    function(documents).update(
        environment={"LOG_LEVEL": "info", "MODE": "fast"},
        tags={"team": "orders", "tier": "2"},
        timeout=10,
        aliases=["live", "${env.name}"],
    )
    documents[ENVIRONMENT]["spec"]["overrides"][0] = {
        "service": "orders",
        "environment": {"LOG_LEVEL": "debug", "TRACE": "1"},
        "tags": {"tier": "1"},
        "memorySize": 1024,
        "runtime": "python3.13",
        "handler": "app.other",
        "architecture": "arm64",
        "aliases": ["canary"],
    }
    (fn,) = _deploy(documents).functions
    assert fn.environment == {"LOG_LEVEL": "debug", "MODE": "fast", "TRACE": "1"}
    assert fn.tags == {"team": "orders", "tier": "1"}
    assert (fn.memory_size, fn.timeout) == (1024, 10)  # timeout not overridden: the service's value stays
    assert (fn.runtime, fn.handler, fn.architecture) == ("python3.13", "app.other", "arm64")
    assert fn.aliases == ["canary"]


def test_no_override_keeps_service_values() -> None:
    documents = contract_dicts()
    documents[ENVIRONMENT]["spec"]["overrides"] = []
    (fn,) = _deploy(documents).functions
    assert (fn.memory_size, fn.environment) == (128, {"LOG_LEVEL": "info"})


def test_every_expression_renders_from_its_context() -> None:
    documents = contract_dicts()
    documents[WORKFLOW]["spec"]["variables"] = {"suffix": "blue"}
    function(documents).update(
        name="${service.name}-${infra.name}-${workflow.variables.suffix}",
        environment={
            "APP": "${app.name}",
            "ENV": "${env.name}/${env.type}",
            "WHERE": "${infra.name}@${infra.region}",
            "VERSION": "${artifact.version}",
            "EXECUTION": "${execution.id}",
        },
        tags={"version": "${artifact.version}"},
    )
    (fn,) = _deploy(documents, execution_id="ex-9").functions
    assert fn.name == "orders-default-blue"
    assert fn.environment == {
        "APP": "shop",
        "ENV": "dev/NON_PROD",
        "WHERE": "default@us-east-1",
        "VERSION": "orders/orders-42.zip",
        "EXECUTION": "ex-9",
        "LOG_LEVEL": "debug",  # from the environment's override
    }
    assert fn.tags == {"version": "orders/orders-42.zip"}


def test_variables_passed_in_override_workflow_defaults() -> None:
    documents = contract_dicts()
    documents[WORKFLOW]["spec"]["variables"] = {"suffix": "blue", "level": "warn"}
    function(documents).update(
        name="orders-${workflow.variables.suffix}", environment={"L": "${workflow.variables.level}"}
    )
    (fn,) = _deploy(documents, {"suffix": "green"}).functions
    assert fn.name == "orders-green"
    assert fn.environment["L"] == "warn"


def test_unknown_set_variable_is_an_error_naming_it() -> None:
    documents = contract_dicts()
    documents[WORKFLOW]["spec"]["variables"] = {"suffix": "blue"}
    config = config_from(documents)
    with pytest.raises(ConfigValidationError) as info:
        render_deployment(config, "shop", "orders-dev", "ex-1", ARTIFACT, {"sufix": "green"})
    assert str(info.value) == (
        f'{SOURCE}: document 6 (Workflow shop/orders-dev): spec.variables: variable "sufix" is not declared '
        "(declared: suffix)"
    )
    with pytest.raises(ConfigValidationError, match=re.escape("spec.variables: variable")):
        render_artifact_source(config, "shop", "orders-dev", {"sufix": "green"})


def test_secrets_pass_through_for_the_delegate() -> None:
    documents = contract_dicts()
    function(documents)["environment"] = {
        "DB_PASSWORD": "${secrets.db-password}",
        "DSN": "postgres://app:${secrets.prod/db}@db/${app.name}",
    }
    (fn,) = _deploy(documents).functions
    assert fn.environment["DB_PASSWORD"] == "${secrets.db-password}"
    assert fn.environment["DSN"] == "postgres://app:${secrets.prod/db}@db/shop"


def test_a_set_value_cannot_smuggle_in_a_secret_reference() -> None:
    documents = contract_dicts()
    documents[WORKFLOW]["spec"]["variables"] = {"note": "none"}
    function(documents)["environment"] = {"NOTE": "${workflow.variables.note}"}
    config = config_from(documents)
    with pytest.raises(ConfigValidationError) as info:
        render_deployment(config, "shop", "orders-dev", "ex-1", ARTIFACT, {"note": "${secrets.db-password}"})
    assert info.value.errors == [
        f"{SOURCE}: document 4 (Service shop/orders): spec.functions[0].environment.NOTE: the value of "
        "${workflow.variables.note} contains '${secrets.'; the delegate would resolve it as a secret, "
        "when rendered for Workflow shop/orders-dev"
    ]


def test_escape_gives_literal_dollar_brace() -> None:
    documents = contract_dicts()
    function(documents).update(
        environment={"TEMPLATE": "$${app.name} is ${app.name}"},
        tags={"pattern": "$${env.name}", "secret": "$${secrets.x}"},
    )
    (fn,) = _deploy(documents).functions
    assert fn.tags == {"pattern": "${env.name}", "secret": "${secrets.x}"}  # tags are never resolved further
    assert fn.environment["TEMPLATE"] == "${app.name} is shop"


def test_function_name_is_checked_again_with_real_values() -> None:
    documents = contract_dicts()
    function(documents)["tags"] = {"build": "${artifact.version}"}
    function(documents)["name"] = "orders-${artifact.version}"
    config = config_from(documents)
    config.validate_references()  # the placeholder version "1" gives a valid name
    with pytest.raises(ConfigValidationError) as info:
        render_deployment(config, "shop", "orders-dev", "ex-1", ARTIFACT, {})
    assert info.value.errors == [
        f"{SOURCE}: document 4 (Service shop/orders): spec.functions[0].name: Lambda function names are 1..64 of "
        "letters, digits, '-' and '_', got \"orders-orders/orders-42.zip\" (27 characters), "
        "when rendered for Workflow shop/orders-dev"
    ]


def test_unknown_workflow_is_an_unknown_object() -> None:
    config = config_from(contract_dicts())
    with pytest.raises(UnknownObjectError, match="Workflow shop/orders-prod does not exist"):
        render_deployment(config, "shop", "orders-prod", "ex-1", ARTIFACT, {})
    with pytest.raises(UnknownObjectError, match="Workflow other/orders-dev does not exist"):
        render_artifact_source(config, "other", "orders-dev", {})


def test_inherit_credentials_when_provider_has_none() -> None:
    documents = contract_dicts()
    del documents[CLOUD_PROVIDER]["spec"]["credentials"]
    payload = _deploy(documents)
    assert payload.credentials == InheritCredentials()
    assert isinstance(payload.artifact_source, S3Source)
    assert payload.artifact_source.credentials == InheritCredentials()


def test_s3_artifact_provider_differs_from_deployer() -> None:
    documents = contract_dicts()
    _add_provider(documents, "aws-artifacts", ["artifacts", "dev"], role="arn:aws:iam::210987654321:role/reader")
    documents[SERVICE + 1]["spec"]["artifact"]["cloudProvider"] = "aws-artifacts"
    config = config_from(documents)

    source = render_artifact_source(config, "shop", "orders-dev", {})
    assert source.selectors == ["artifacts", "dev"]
    assert isinstance(source.source, S3Source)
    assert source.source.credentials == AssumeRoleCredentials(role_arn="arn:aws:iam::210987654321:role/reader")
    assert source.source.region == "us-east-1"  # the workflow's infrastructure region

    rendered = render_deployment(config, "shop", "orders-dev", "ex-1", ARTIFACT, {})
    assert rendered.selectors == ["dev", "artifacts"]  # deployer's, then the artifact reader's
    assert isinstance(rendered.payload.credentials, AssumeRoleCredentials)
    assert rendered.payload.credentials.role_arn == "arn:aws:iam::123456789012:role/deployer"


def _with_artifact(artifact: dict[str, Any], servers: list[dict[str, Any]] | None = None) -> ConfigSet:
    documents = contract_dicts()
    documents[SERVICE]["spec"]["artifact"] = artifact
    for server in servers or []:
        documents.insert(2, {"kind": "ArtifactServer", "name": server["name"], "spec": server["spec"]})
    config = config_from(documents)
    config.validate_references()
    return config


def test_http_sources_carry_the_server_reference_and_infrastructure_selectors() -> None:
    config = _with_artifact(
        {"source": "artifactory", "server": "artifactory-main", "repository": "libs", "path": "${service.name}/*.zip"}
    )
    rendered = render_artifact_source(config, "shop", "orders-dev", {})
    assert rendered.selectors == ["dev"]
    assert isinstance(rendered.source, ArtifactorySource)
    assert rendered.source.path == "orders/*.zip"
    server = rendered.source.server
    assert (server.name, server.type, server.url) == (
        "artifactory-main",
        "artifactory",
        "https://artifactory.example.com/artifactory",
    )
    assert (server.username, server.password_secret, server.token_secret) == ("deploy", "artifactory-password", None)


def test_jenkins_and_nexus_sources() -> None:
    jenkins = {"name": "ci", "spec": {"type": "jenkins", "url": "https://ci.example.com", "tokenSecret": "ci-token"}}
    config = _with_artifact(
        {"source": "jenkins", "server": "ci", "job": "shop/${service.name}", "path": "dist/*.zip"}, [jenkins]
    )
    source = render_artifact_source(config, "shop", "orders-dev", {}).source
    assert isinstance(source, JenkinsSource)
    assert (source.job, source.path, source.server.token_secret) == ("shop/orders", "dist/*.zip", "ci-token")

    nexus = {"name": "repo", "spec": {"type": "nexus", "url": "http://nexus:8081"}}
    artifact = {"source": "nexus", "server": "repo", "repository": "releases", "format": "maven2"}
    config = _with_artifact({**artifact, "groupId": "com.example", "artifactId": "${service.name}"}, [nexus])
    source = render_artifact_source(config, "shop", "orders-dev", {}).source
    assert isinstance(source, NexusSource)
    assert (source.format, source.group_id, source.artifact_id, source.extension, source.path) == (
        "maven2",
        "com.example",
        "orders",
        "zip",
        None,
    )


def test_custom_source_uses_its_provider_or_the_infrastructure_selectors() -> None:
    artifact = {"source": "custom", "script": ["./list.sh", "--env", "${env.name}"], "timeoutSeconds": 30}
    rendered = render_artifact_source(_with_artifact(artifact), "shop", "orders-dev", {})
    assert rendered.source == CustomSource(
        script=["./list.sh", "--env", "dev"], timeout_seconds=30, credentials=InheritCredentials(), region="us-east-1"
    )
    assert rendered.selectors == ["dev"]

    rendered = render_artifact_source(
        _with_artifact({**artifact, "cloudProvider": "aws-dev"}), "shop", "orders-dev", {}
    )
    assert isinstance(rendered.source, CustomSource)
    assert isinstance(rendered.source.credentials, AssumeRoleCredentials)


def test_artifact_fields_cannot_use_deploy_only_expressions() -> None:
    documents = contract_dicts()
    documents[SERVICE]["spec"]["artifact"]["key"] = "orders/${artifact.version}.zip"
    with pytest.raises(ConfigValidationError) as info:
        config_from(documents)
    assert str(info.value) == (
        f"{SOURCE}: document 4 (Service shop/orders): spec.artifact.key: ${{artifact.version}} is not available here"
    )


def test_templated_bucket_is_checked_after_rendering() -> None:
    documents = contract_dicts()
    documents[SERVICE]["spec"]["artifact"]["bucket"] = "Shop-${env.name}"
    config = config_from(documents)
    with pytest.raises(ConfigValidationError) as info:
        config.validate_references()
    assert info.value.errors[0].startswith(
        f'{SOURCE}: document 4 (Service shop/orders): spec.artifact.bucket: invalid S3 bucket name "Shop-dev"'
    )


def test_vpc_and_staging_bucket_are_optional() -> None:
    documents = contract_dicts()
    del infrastructure(documents)["vpc"]
    del infrastructure(documents)["stagingBucket"]
    payload = _deploy(documents)
    assert payload.staging_bucket is None
    assert payload.functions[0].vpc is None
