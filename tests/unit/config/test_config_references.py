"""ConfigSet: lookups, merging, and reference checks across documents (including rendered names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from config_examples import (
    APPLICATION,
    ARTIFACT_SERVER,
    CONTRACT_YAML,
    ENVIRONMENT,
    SERVICE,
    SOURCE,
    TRIGGER,
    WORKFLOW,
    config_from,
    contract_dicts,
    function,
    infrastructure,
)

from shared.config import (
    CloudProvider,
    ConfigSet,
    ConfigValidationError,
    Service,
    UnknownObjectError,
    Workflow,
    normalize_kind,
    parse_files,
)

Docs = list[dict[str, Any]]


def _contract() -> ConfigSet:
    return ConfigSet(parse_files([(SOURCE, CONTRACT_YAML)]))


def test_contract_example_validates() -> None:
    config = _contract()
    config.validate_references()
    assert len(config) == 7


def test_lookups_by_kind_name_and_application() -> None:
    config = _contract()
    service = config.get(Service, "orders", "shop")
    assert service is not None
    assert service.label == "Service shop/orders"
    assert config.get(Service, "orders") is None  # application-scoped: the application is part of the key
    assert config.get(CloudProvider, "aws-dev") is not None
    assert [w.name for w in config.of_kind(Workflow, "shop")] == ["orders-dev"]
    assert config.of_kind(Workflow, "other") == []
    assert [d.name for d in config.find("services", application="shop")] == ["orders"]
    assert [d.name for d in config.find("cloudprovider", "aws-dev")] == ["aws-dev"]
    with pytest.raises(UnknownObjectError) as info:
        config.require(Workflow, "nope", "shop")
    assert str(info.value) == "Workflow shop/nope does not exist"


@pytest.mark.parametrize(
    ("typed", "kind"), [("Service", "Service"), ("workflows", "Workflow"), ("ArtifactServers", "ArtifactServer")]
)
def test_normalize_kind(typed: str, kind: str) -> None:
    assert normalize_kind(typed) == kind


def test_normalize_kind_rejects_unknown() -> None:
    with pytest.raises(UnknownObjectError, match='unknown kind "pods"'):
        normalize_kind("pods")


def test_merged_replaces_same_key_and_adds_new() -> None:
    config = _contract()
    update = parse_files(
        [
            (
                "update.yaml",
                "kind: Application\nname: shop\nspec: {description: new}\n---\nkind: Application\nname: blog\n",
            )
        ]
    )
    merged = config.merged(update)
    assert len(merged) == 8
    assert [d.name for d in merged.find("Application")] == ["shop", "blog"]
    shop = merged.find("Application", "shop")[0]
    assert shop.to_dict()["spec"] == {"description": "new"}
    assert len(config) == 7  # the original is untouched


def test_merged_rejects_duplicates_within_one_apply() -> None:
    documents = parse_files([("a.yaml", "kind: Application\nname: blog\n")])
    documents += parse_files([("b.yaml", "kind: Application\nname: blog\n")])
    with pytest.raises(ConfigValidationError) as info:
        _contract().merged(documents)
    assert str(info.value) == (
        "b.yaml: document 1 (Application blog): duplicate document: "
        "Application blog is also defined in a.yaml document 1"
    )


def _reference_errors(mutate: Callable[[Docs], None]) -> list[str]:
    documents = contract_dicts()
    mutate(documents)
    config = config_from(documents)
    with pytest.raises(ConfigValidationError) as info:
        config.validate_references()
    assert str(info.value) == info.value.errors[0]
    return info.value.errors


def _set(get: Callable[[Docs], dict[str, Any]], key: str, value: Any) -> Callable[[Docs], None]:
    def mutate(documents: Docs) -> None:
        get(documents)[key] = value

    return mutate


def _spec(index: int) -> Callable[[Docs], dict[str, Any]]:
    return lambda d: d[index]["spec"]


def _artifact(d: Docs) -> dict[str, Any]:
    artifact: dict[str, Any] = d[SERVICE]["spec"]["artifact"]
    return artifact


def _jenkins_source(server: str) -> Callable[[Docs], None]:
    def mutate(d: Docs) -> None:
        d[SERVICE]["spec"]["artifact"] = {"source": "jenkins", "server": server, "job": "orders/main", "path": "*.zip"}

    return mutate


def _override_service(d: Docs) -> None:
    d[ENVIRONMENT]["spec"]["overrides"][0]["service"] = "payments"


def _drop_application(d: Docs) -> None:
    del d[APPLICATION]


def _undeclared_variable(d: Docs) -> None:
    function(d)["environment"]["REGION"] = "${workflow.variables.region}"


def _long_name(d: Docs) -> None:
    function(d)["name"] = "${app.name}-${service.name}-${env.name}-" + "x" * 50


def _override_pushes_environment_over_limit(d: Docs) -> None:
    function(d)["environment"] = {f"SVC_{n}": "s" * 90 for n in range(22)}
    d[ENVIRONMENT]["spec"]["overrides"][0]["environment"] = {f"ENV_{n}": "e" * 90 for n in range(22)}


def _digit_alias_from_variable(d: Docs) -> None:
    d[WORKFLOW]["spec"]["variables"] = {"stage": "42"}
    function(d)["aliases"] = ["${workflow.variables.stage}"]


def _same_rendered_names(d: Docs) -> None:
    second = dict(function(d))
    second["name"] = "${app.name}-${service.name}-${env.type}"
    function(d)["name"] = "${app.name}-${service.name}-NON_PROD"
    d[SERVICE]["spec"]["functions"].append(second)


SVC = f"{SOURCE}: document 4 (Service shop/orders): "
ENV = f"{SOURCE}: document 5 (Environment shop/dev): "
WF = f"{SOURCE}: document 6 (Workflow shop/orders-dev): "

BAD_REFERENCES: list[tuple[str, Callable[[Docs], None], list[str]]] = [
    (
        "service artifact cloud provider",
        _set(_artifact, "cloudProvider", "aws-prod"),
        [SVC + 'spec.artifact.cloudProvider: CloudProvider "aws-prod" does not exist'],
    ),
    (
        "environment infrastructure cloud provider",
        _set(infrastructure, "cloudProvider", "aws-prod"),
        [ENV + 'spec.infrastructure[0].cloudProvider: CloudProvider "aws-prod" does not exist'],
    ),
    (
        "override of an unknown service",
        _override_service,
        [ENV + "spec.overrides[0].service: Service shop/payments does not exist"],
    ),
    (
        "workflow service",
        _set(_spec(WORKFLOW), "service", "payments"),
        [WF + "spec.service: Service shop/payments does not exist"],
    ),
    (
        "workflow environment",
        _set(_spec(WORKFLOW), "environment", "prod"),
        [WF + "spec.environment: Environment shop/prod does not exist"],
    ),
    (
        "workflow infrastructure",
        _set(_spec(WORKFLOW), "infrastructure", "blue"),
        [WF + 'spec.infrastructure: Environment shop/dev has no infrastructure "blue" (has: default)'],
    ),
    (
        "trigger workflow",
        _set(_spec(TRIGGER), "workflow", "orders-prod"),
        [
            f"{SOURCE}: document 7 (Trigger shop/orders-on-new-artifact): spec.workflow: "
            "Workflow shop/orders-prod does not exist"
        ],
    ),
    (
        "unknown artifact server",
        _jenkins_source("jenkins-main"),
        [SVC + 'spec.artifact.server: ArtifactServer "jenkins-main" does not exist'],
    ),
    (
        "artifact server type mismatch",
        _jenkins_source("artifactory-main"),
        [
            SVC + 'spec.artifact.server: ArtifactServer "artifactory-main" has type artifactory, '
            "but this artifact's source is jenkins"
        ],
    ),
    (
        "missing application",
        _drop_application,
        [
            f'{SOURCE}: document 3 (Service shop/orders): application: Application "shop" does not exist',
            f'{SOURCE}: document 4 (Environment shop/dev): application: Application "shop" does not exist',
            f'{SOURCE}: document 5 (Workflow shop/orders-dev): application: Application "shop" does not exist',
            f"{SOURCE}: document 6 (Trigger shop/orders-on-new-artifact): application: "
            'Application "shop" does not exist',
        ],
    ),
    (
        "undeclared workflow variable",
        _undeclared_variable,
        [
            SVC + "spec.functions[0].environment.REGION: unknown expression ${workflow.variables.region}: "
            'Workflow shop/orders-dev declares no variable "region" in spec.variables'
        ],
    ),
    (
        "function name too long after rendering",
        _long_name,
        [
            SVC + "spec.functions[0].name: Lambda function names are 1..64 of letters, digits, '-' and '_', "
            f'got "shop-orders-dev-{"x" * 50}" (66 characters), when rendered for Workflow shop/orders-dev'
        ],
    ),
    (
        "merged environment over 4 KB",
        _override_pushes_environment_over_limit,
        [
            ENV + "spec.overrides[0].environment: environment variables take 4469 bytes, over Lambda's 4 KB limit "
            "(4096 bytes), when rendered for Workflow shop/orders-dev"
        ],
    ),
    (
        "alias of digits after rendering",
        _digit_alias_from_variable,
        [
            SVC + "spec.functions[0].aliases[0]: Lambda alias names are 1..128 of letters, digits, '-' and '_', "
            'not all digits, got "42", when rendered for Workflow shop/orders-dev'
        ],
    ),
    (
        "two functions rendering to one name",
        _same_rendered_names,
        [
            SVC + 'spec.functions[1].name: "shop-orders-NON_PROD" is also the name of spec.functions[0], '
            "when rendered for Workflow shop/orders-dev"
        ],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in BAD_REFERENCES],
)
def test_bad_reference_names_document_and_field(mutate: Callable[[Docs], None], expected: list[str]) -> None:
    assert _reference_errors(mutate) == expected


def test_a_broken_service_reference_is_reported_once() -> None:
    # The workflow renders the service's source too; the same problem must not be listed twice.
    errors = _reference_errors(_set(_artifact, "cloudProvider", "aws-prod"))
    assert len(errors) == 1


def test_http_source_with_matching_server_validates() -> None:
    documents = contract_dicts()
    documents[SERVICE]["spec"]["artifact"] = {
        "source": "artifactory",
        "server": "artifactory-main",
        "repository": "libs-release",
        "path": "orders/*.zip",
    }
    config_from(documents).validate_references()
    assert documents[ARTIFACT_SERVER]["spec"]["type"] == "artifactory"


def test_stored_documents_report_without_file() -> None:
    documents = contract_dicts()
    documents[WORKFLOW]["spec"]["service"] = "payments"
    from shared.config import document_from_dict

    config = ConfigSet(document_from_dict(d) for d in documents)
    with pytest.raises(ConfigValidationError) as info:
        config.validate_references()
    assert info.value.errors == ["Workflow shop/orders-dev: spec.service: Service shop/payments does not exist"]
