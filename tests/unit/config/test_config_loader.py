"""Parsing and validating single documents: the contract example, and one-line errors for bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from config_examples import (
    APPLICATION,
    CLOUD_PROVIDER,
    CONTRACT_YAML,
    ENVIRONMENT,
    SERVICE,
    SOURCE,
    TRIGGER,
    contract_dicts,
    function,
    infrastructure,
    to_yaml,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import (
    Application,
    ConfigError,
    ConfigSet,
    ConfigSyntaxError,
    ConfigValidationError,
    Environment,
    Origin,
    Service,
    Trigger,
    document_from_dict,
    parse_files,
)
from shared.config.loader import MAX_NODES

Docs = list[dict[str, Any]]


def test_contract_example_parses_with_defaults_and_origins() -> None:
    documents = parse_files([(SOURCE, CONTRACT_YAML)])

    assert [d.label for d in documents] == [
        "CloudProvider aws-dev",
        "ArtifactServer artifactory-main",
        "Application shop",
        "Service shop/orders",
        "Environment shop/dev",
        "Workflow shop/orders-dev",
        "Trigger shop/orders-on-new-artifact",
    ]
    assert [d.origin for d in documents] == [Origin(SOURCE, n) for n in range(1, 8)]
    service = documents[SERVICE]
    assert isinstance(service, Service)
    fn = service.spec.functions[0]
    assert (fn.name, fn.memory_size, fn.timeout, fn.architecture) == (
        "${app.name}-${service.name}-${env.name}",
        128,
        3,
        "x86_64",
    )
    assert fn.aliases == ["${env.name}"]
    trigger = documents[TRIGGER]
    assert isinstance(trigger, Trigger)
    # `on:` is a YAML 1.1 boolean in plain PyYAML; the loader must keep it a key.
    assert trigger.spec.on.new_artifact is not None
    assert trigger.spec.on.cron is None
    assert trigger.spec.paused is False


def test_defaults_when_fields_omitted() -> None:
    text = """
kind: Service
application: shop
name: orders
spec:
  artifact: {source: s3, cloudProvider: aws-dev, bucket: shop-artifacts, key: "a/*.zip"}
  functions:
    - {runtime: python3.12, handler: app.handler}
"""
    (service,) = parse_files([("s.yaml", text)])
    assert isinstance(service, Service)
    assert service.spec.deployment_type == "AWS_LAMBDA"
    fn = service.spec.functions[0]
    assert fn.name == "${app.name}-${service.name}-${env.name}"
    assert (fn.memory_size, fn.timeout, fn.aliases, fn.environment, fn.tags) == (128, 3, ["${env.name}"], {}, {})


def test_multi_document_files_skip_empty_documents_but_count_them() -> None:
    text = "---\n---\nkind: Application\nname: a\n---\n\n---\nkind: Application\nname: b\nspec:\n"
    documents = parse_files([("apps.yaml", text), ("more.yaml", "kind: Application\nname: c\n")])
    assert [(d.name, d.origin) for d in documents] == [
        ("a", Origin("apps.yaml", 2)),
        ("b", Origin("apps.yaml", 4)),
        ("c", Origin("more.yaml", 1)),
    ]
    assert parse_files([("empty.yaml", "# nothing here\n")]) == []


def test_yaml_1_1_surprises_are_avoided() -> None:
    text = """
kind: Service
application: shop
name: orders
spec:
  artifact: {source: s3, cloudProvider: aws-dev, bucket: shop-artifacts, key: "a/*.zip"}
  functions:
    - runtime: python3.12
      handler: app.handler
      environment: {FEATURE: yes, RELEASED: 2024-01-01, PORT: 8080, DEBUG: true, RATIO: 0.5}
"""
    (service,) = parse_files([("s.yaml", text)])
    assert isinstance(service, Service)
    assert service.spec.functions[0].environment == {
        "FEATURE": "yes",
        "RELEASED": "2024-01-01",
        "PORT": "8080",
        "DEBUG": "true",
        "RATIO": "0.5",
    }


def test_application_spec_is_optional_and_may_describe() -> None:
    documents = parse_files([("a.yaml", "kind: Application\nname: shop\nspec: {description: The shop}\n")])
    assert isinstance(documents[0], Application)
    assert documents[0].spec.description == "The shop"


def test_document_from_dict_reads_stored_documents_without_origin() -> None:
    stored = contract_dicts()[ENVIRONMENT]
    document = document_from_dict(stored)
    assert isinstance(document, Environment)
    assert document.origin is None
    assert document.to_dict() == stored
    stored["spec"]["type"] = "STAGING"
    with pytest.raises(ConfigValidationError) as info:
        document_from_dict(stored)
    assert str(info.value) == 'Environment shop/dev: spec.type: must be "PROD" or "NON_PROD", got "STAGING"'


def _errors(mutate: Callable[[Docs], None]) -> list[str]:
    documents = contract_dicts()
    mutate(documents)
    with pytest.raises(ConfigValidationError) as info:
        parse_files([(SOURCE, to_yaml(documents))])
    assert str(info.value) == info.value.errors[0]
    assert all("\n" not in line for line in info.value.errors)
    return info.value.errors


def _set(path: Callable[[Docs], dict[str, Any]], key: str, value: Any) -> Callable[[Docs], None]:
    def mutate(documents: Docs) -> None:
        path(documents)[key] = value

    return mutate


SVC = f"{SOURCE}: document 4 (Service shop/orders): "
ENV = f"{SOURCE}: document 5 (Environment shop/dev): "
FN0 = SVC + "spec.functions[0]."
INFRA0 = ENV + "spec.infrastructure[0]."


def _vpc_without_subnets(d: Docs) -> None:
    infrastructure(d)["vpc"]["subnetIds"] = []


def _duplicate_service(d: Docs) -> None:
    d.append(d[SERVICE])


def _unknown_kind(d: Docs) -> None:
    d[APPLICATION]["kind"] = "Aplication"


def _no_name(d: Docs) -> None:
    del d[APPLICATION]["name"]


def _no_kind(d: Docs) -> None:
    del d[APPLICATION]["kind"]


def _app_scoped_provider(d: Docs) -> None:
    d[CLOUD_PROVIDER]["application"] = "shop"


def _cron_and_new_artifact(d: Docs) -> None:
    d[TRIGGER]["spec"]["on"]["cron"] = "0 3 * * *"


def _large_environment(d: Docs) -> None:
    function(d)["environment"] = {f"VAR_{n}": "x" * 100 for n in range(40)}


def _nexus_maven_without_group(d: Docs) -> None:
    d[SERVICE]["spec"]["artifact"] = {
        "source": "nexus",
        "server": "nexus-main",
        "repository": "releases",
        "format": "maven2",
        "artifactId": "orders",
    }


def _second_function_same_name(d: Docs) -> None:
    d[SERVICE]["spec"]["functions"].append(dict(function(d)))


def _bad_artifact_source(d: Docs) -> None:
    d[SERVICE]["spec"]["artifact"]["source"] = "ftp"


BAD_DOCUMENTS: list[tuple[str, Callable[[Docs], None], str]] = [
    (
        "unknown field, with a suggestion",
        _set(function, "memmorySize", 256),
        FN0 + "memmorySize: unknown field (did you mean memorySize?)",
    ),
    (
        "unknown field, listing the allowed ones",
        _set(lambda d: d[SERVICE]["spec"]["artifact"], "region", "us-east-1"),
        SVC + "spec.artifact.region: unknown field (expected one of: source, cloudProvider, bucket, key)",
    ),
    ("memory too small", _set(function, "memorySize", 64), FN0 + "memorySize: must be between 128 and 10240, got 64"),
    ("timeout too long", _set(function, "timeout", 901), FN0 + "timeout: must be between 1 and 900, got 901"),
    (
        "memory of the wrong type",
        _set(function, "memorySize", "big"),
        FN0 + 'memorySize: must be an integer, got "big"',
    ),
    (
        "numeric string is not an integer",
        _set(function, "timeout", "30"),
        FN0 + 'timeout: must be an integer, got "30"',
    ),
    (
        "functions not a list",
        _set(lambda d: d[SERVICE]["spec"], "functions", {"name": "x"}),
        SVC + "spec.functions: must be a list, got a mapping",
    ),
    ("no functions", _set(lambda d: d[SERVICE]["spec"], "functions", []), SVC + "spec.functions: must not be empty"),
    (
        "architecture not in enum",
        _set(function, "architecture", "amd64"),
        FN0 + 'architecture: must be "x86_64" or "arm64", got "amd64"',
    ),
    (
        "unknown artifact source",
        _bad_artifact_source,
        SVC + 'spec.artifact.source: must be one of "s3", "jenkins", "artifactory", "nexus", "custom", got "ftp"',
    ),
    ("bad runtime", _set(function, "runtime", "python2.7"), FN0 + 'runtime: unsupported Lambda runtime "python2.7"'),
    ("empty handler", _set(function, "handler", ""), FN0 + 'handler: must be 1..128 characters without spaces, got ""'),
    (
        "aws: tag key",
        _set(function, "tags", {"aws:team": "orders"}),
        FN0 + 'tags["aws:team"]: tag key "aws:team" uses the reserved prefix \'aws:\'',
    ),
    (
        "bad environment variable name",
        _set(function, "environment", {"LOG-LEVEL": "x"}),
        FN0 + 'environment["LOG-LEVEL"]: invalid environment variable name "LOG-LEVEL"',
    ),
    (
        "reserved environment variable",
        _set(function, "environment", {"AWS_REGION": "x"}),
        FN0 + "environment.AWS_REGION: environment variable AWS_REGION is reserved by Lambda",
    ),
    (
        "environment over 4 KB",
        _large_environment,
        FN0 + "environment: environment variables take 4471 bytes, over Lambda's 4 KB limit",
    ),
    (
        "unknown expression",
        _set(function, "name", "${app.name}-${foo.bar}"),
        FN0 + "name: unknown expression ${foo.bar} (known: app.name,",
    ),
    (
        "secret in a function name",
        _set(function, "name", "fn-${secrets.token}"),
        FN0 + "name: ${secrets.token} is not allowed here: secrets are resolved only in environment values",
    ),
    (
        "escaped secret in an environment value",
        _set(function, "environment", {"RAW": "$${secrets.x}"}),
        FN0 + "environment.RAW: a literal '${secrets.' (written $${secrets.) cannot be used here",
    ),
    (
        "bad secret name",
        _set(function, "environment", {"PW": "${secrets.../etc/passwd}"}),
        FN0 + "environment.PW: invalid secret reference ${secrets.../etc/passwd}",
    ),
    ("unterminated expression", _set(function, "name", "${app.name"), FN0 + "name: unterminated expression"),
    (
        "duplicate function names",
        _second_function_same_name,
        SVC + "spec.functions[1].name: duplicate function name (set `name` on each function)",
    ),
    (
        "nexus maven2 needs groupId",
        _nexus_maven_without_group,
        SVC + "spec.artifact.groupId: required when format is maven2",
    ),
    (
        "bad region",
        _set(infrastructure, "region", "us-east"),
        INFRA0 + 'region: not an AWS region name like us-east-1, got "us-east"',
    ),
    (
        "bad execution role ARN",
        _set(infrastructure, "executionRole", "arn:aws:iam::1234:user/bob"),
        INFRA0 + "executionRole: must be an IAM role ARN like arn:aws:iam::123456789012:role/name",
    ),
    ("VPC with empty subnets", _vpc_without_subnets, INFRA0 + "vpc.subnetIds: must not be empty"),
    (
        "bad staging bucket",
        _set(infrastructure, "stagingBucket", "Shop_Staging"),
        INFRA0 + 'stagingBucket: invalid S3 bucket name "Shop_Staging"',
    ),
    (
        "bad assume role ARN",
        _set(lambda d: d[CLOUD_PROVIDER]["spec"]["credentials"]["assumeRole"], "roleArn", "deployer"),
        f"{SOURCE}: document 1 (CloudProvider aws-dev): spec.credentials.assumeRole.roleArn: must be an IAM role ARN",
    ),
    (
        "application on a global kind",
        _app_scoped_provider,
        f"{SOURCE}: document 1 (CloudProvider aws-dev): application: unknown field: "
        "CloudProvider is not application-scoped",
    ),
    (
        "bad cron",
        _set(lambda d: d[TRIGGER]["spec"], "on", {"cron": "0 25 * * *"}),
        f"{SOURCE}: document 7 (Trigger shop/orders-on-new-artifact): spec.on.cron: "
        "cron hour value 25 is out of range 0-23",
    ),
    (
        "cron with six fields",
        _set(lambda d: d[TRIGGER]["spec"], "on", {"cron": "0 0 3 * * *"}),
        f"{SOURCE}: document 7 (Trigger shop/orders-on-new-artifact): spec.on.cron: cron expression",
    ),
    (
        "both trigger conditions",
        _cron_and_new_artifact,
        f"{SOURCE}: document 7 (Trigger shop/orders-on-new-artifact): spec.on: set exactly one of newArtifact or cron",
    ),
    (
        "unknown kind",
        _unknown_kind,
        f'{SOURCE}: document 3: kind: unknown kind "Aplication" (expected one of: CloudProvider,',
    ),
    ("missing name", _no_name, f"{SOURCE}: document 3 (Application): name: required field is missing"),
    ("missing kind", _no_kind, f"{SOURCE}: document 3: kind: required field is missing"),
    (
        "object name too long",
        _set(lambda d: d[APPLICATION], "name", "s" * 65),
        f"{SOURCE}: document 3 (Application {'s' * 65}): name: must be 1..64 of letters, digits, '-' and '_'",
    ),
    (
        "duplicate documents",
        _duplicate_service,
        f"{SOURCE}: document 8 (Service shop/orders): duplicate document: "
        f"Service shop/orders is also defined in {SOURCE} document 4",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in BAD_DOCUMENTS],
)
def test_bad_document_gives_one_line_naming_file_document_and_field(
    mutate: Callable[[Docs], None], expected: str
) -> None:
    errors = _errors(mutate)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_every_error_is_collected_and_the_message_is_the_first() -> None:
    def mutate(documents: Docs) -> None:
        function(documents)["memorySize"] = 64
        function(documents)["timeout"] = 0
        infrastructure(documents)["region"] = "mars-1"

    errors = _errors(mutate)
    assert [e.split(": ", 3)[2] for e in errors] == [
        "spec.functions[0].memorySize",
        "spec.functions[0].timeout",
        "spec.infrastructure[0].region",
    ]


def test_errors_from_several_files_name_their_file() -> None:
    with pytest.raises(ConfigValidationError) as info:
        parse_files([("a.yaml", "kind: Application\nname: ok\n"), ("b.yaml", "kind: Application\nname: 'a b'\n")])
    assert info.value.errors == [
        "b.yaml: document 1 (Application a b): name: must be 1..64 of letters, digits, '-' and '_', got \"a b\""
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Application\nname: [shop\n", "shop.yaml: line 3, column 1: invalid YAML: expected ',' or ']'"),
        ("kind: Application\nname: a\n  spec: x\n", "shop.yaml: line 3, column 7: invalid YAML: mapping values"),
        ("kind: Application\nname: a\nname: b\n", "shop.yaml: line 3, column 1: invalid YAML: duplicate key 'name'"),
        ("kind: Application\nname: &n [*n]\n", "shop.yaml: document 1: invalid YAML: an alias refers to itself"),
    ],
)
def test_bad_yaml_names_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigSyntaxError) as info:
        parse_files([(SOURCE, text)])
    assert str(info.value).startswith(expected), str(info.value)
    assert "\n" not in str(info.value)


def test_syntax_errors_win_but_keep_other_files_errors() -> None:
    with pytest.raises(ConfigSyntaxError) as info:
        parse_files([("a.yaml", "kind: Nope\nname: x\n"), ("b.yaml", "a: [\n")])
    assert [e.split(":")[0] for e in info.value.errors] == ["b.yaml", "a.yaml"]


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 7)]
    with pytest.raises(ConfigSyntaxError) as info:
        parse_files([(SOURCE, "\n".join(lines) + "\n")])
    assert str(info.value) == f"{SOURCE}: document 1: document expands to more than {MAX_NODES} YAML nodes"


def test_anchors_and_merge_keys_still_work() -> None:
    text = """
kind: Service
application: shop
name: orders
spec:
  artifact: {source: s3, cloudProvider: aws-dev, bucket: shop-artifacts, key: "a/*.zip"}
  functions:
    - &base {name: a, runtime: python3.12, handler: app.handler, memorySize: 512}
    - {<<: *base, name: b}
"""
    (service,) = parse_files([("s.yaml", text)])
    assert isinstance(service, Service)
    assert [(f.name, f.memory_size) for f in service.spec.functions] == [("a", 512), ("b", 512)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "x.yaml: document 1: must be a mapping with kind, name and spec, got a list"),
        ("just text\n", 'x.yaml: document 1: must be a mapping with kind, name and spec, got "just text"'),
        ("kind: 3\nname: a\n", "x.yaml: document 1: kind: unknown kind 3 (expected one of: CloudProvider,"),
        (
            "kind: Service\napplication: shop\nname: s\nspec:\n",
            "x.yaml: document 1 (Service shop/s): spec: must be a mapping, got null",
        ),
        (
            "kind: Service\nname: s\nspec: {}\n",
            "x.yaml: document 1 (Service s): application: required field is missing",
        ),
    ],
)
def test_malformed_documents(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_files([("x.yaml", text)])
    assert str(info.value).startswith(expected), str(info.value)


def _paths(data: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 20_000), st.text(max_size=10), st.sampled_from(["${app.name}", "${x}"])
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, database=None)  # unit tests write no files
@given(path=st.sampled_from(_paths(contract_dicts())), value=_VALUES, delete=st.booleans())
def test_any_damage_gives_config_errors_of_one_line(path: tuple[str | int, ...], value: Any, delete: bool) -> None:
    documents = contract_dicts()
    parent: Any = documents
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    errors: list[str] = []
    try:
        ConfigSet(parse_files([(SOURCE, to_yaml(documents))])).validate_references()
    except ConfigError as exc:  # any other exception fails the test
        errors = exc.errors
    for line in errors:
        assert "\n" not in line
        assert line.startswith(f"{SOURCE}: "), line
