"""The JSON Schema for editors, and `outrider get` output (YAML/JSON) that reads back unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from config_examples import CONTRACT_YAML, SERVICE, SOURCE, TRIGGER, contract_dicts

from shared.config import documents_to_json, documents_to_yaml, json_schema, parse_files


def test_schema_is_draft_2020_12_with_one_branch_per_kind() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    kinds = ["CloudProvider", "ArtifactServer", "Application", "Service", "Environment", "Workflow", "Trigger"]
    assert schema["oneOf"] == [{"$ref": f"#/$defs/{kind}"} for kind in kinds]
    for kind in kinds:
        definition = schema["$defs"][kind]
        assert definition["properties"]["kind"]["const"] == kind
        assert definition["required"][0] == "kind"
        assert definition["additionalProperties"] is False
    assert "application" in schema["$defs"]["Service"]["required"]
    assert "application" not in schema["$defs"]["CloudProvider"]["properties"]
    memory = schema["$defs"]["FunctionConfig"]["properties"]["memorySize"]
    assert (memory["minimum"], memory["maximum"], memory["default"]) == (128, 10240, 128)
    assert schema["$defs"]["FunctionConfig"]["properties"]["aliases"]["default"] == ["${env.name}"]
    json.dumps(schema)  # serialisable as is


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_the_contract_example_as_written() -> None:
    validator = _validator()
    # Load like an editor's YAML 1.2 plugin would: `on` is a key, not a boolean.
    for document in parse_files([(SOURCE, CONTRACT_YAML)]):
        raw = yaml.safe_load(documents_to_yaml([document]))
        assert list(validator.iter_errors(raw)) == []
    minimal = {"kind": "Application", "name": "shop"}
    assert list(validator.iter_errors(minimal)) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["spec"]["functions"][0].update(memorySize=64), "memorySize"),
        (lambda d: d["spec"]["functions"][0].update(memmorySize=256), "memmorySize"),
        (lambda d: d["spec"]["functions"][0].update(runtime="python2.7"), "runtime"),
        (lambda d: d.update(name="has space"), "name"),
        (lambda d: d.pop("application"), "application"),
        (lambda d: d.update(kind="Servic"), "kind"),
    ],
)
def test_schema_rejects_bad_documents(change: Any, path: str) -> None:
    validator = _validator()
    document = contract_dicts()[SERVICE]
    change(document)
    assert not validator.is_valid(document), path


def test_to_dict_orders_keys_and_fills_defaults() -> None:
    service = parse_files([(SOURCE, CONTRACT_YAML)])[SERVICE]
    data = service.to_dict()
    assert list(data) == ["kind", "application", "name", "spec"]
    assert data["spec"]["functions"][0]["memorySize"] == 128
    assert data["spec"]["functions"][0]["architecture"] == "x86_64"


def test_yaml_output_reads_back_to_the_same_documents() -> None:
    documents = parse_files([(SOURCE, CONTRACT_YAML)])
    text = documents_to_yaml(documents)
    assert text.startswith("---\nkind: CloudProvider\n")
    again = parse_files([("out.yaml", text)])
    assert [d.to_dict() for d in again] == [d.to_dict() for d in documents]
    assert again[TRIGGER].to_dict()["spec"]["on"] == {"newArtifact": {}}


def test_json_output_is_one_array() -> None:
    documents = parse_files([(SOURCE, CONTRACT_YAML)])
    data = json.loads(documents_to_json(documents))
    assert data == contract_dicts()
    assert data[0]["spec"]["credentials"]["assumeRole"]["externalId"] == "deploy-ext-1"
