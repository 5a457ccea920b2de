"""deploy/ecs/ and deploy/iam/: cfn-lint, the token from Secrets Manager, the task role's policy, and
registration and deployment against a moto server on loopback.

moto's CloudFormation covers the roles and their inline policies faithfully but builds ECS task
definitions from only some properties (it drops networkMode and the roles), so the ECS checks
register deploy/ecs/task-definition.json through the real ECS API model instead, and the
container-level checks on the template read the template itself.
"""

from __future__ import annotations

import ast
import json
import string
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from delegate.aws.operations import required_iam_actions
from tests.harness import BIN, ROOT

ECS_DIR = ROOT / "deploy" / "ecs"
TEMPLATE = ECS_DIR / "delegate.yaml"
TASK_DEFINITION = ECS_DIR / "task-definition.json"
POLICY = ROOT / "deploy" / "iam" / "delegate-policy.json"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile.delegate"
REGION = "us-east-1"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref X, !If [...]) as their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return doc


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(POLICY.read_text())
    return doc


def _container(template: dict[str, Any]) -> dict[str, Any]:
    [container] = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return dict(container)


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_template_passes_cfn_lint() -> None:
    proc = subprocess.run([str(BIN / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_task_role_policy_is_the_one_in_deploy_iam(template: dict[str, Any], policy: dict[str, Any]) -> None:
    [inline] = template["Resources"]["TaskRole"]["Properties"]["Policies"]
    assert inline["PolicyDocument"] == policy


def test_policy_allows_every_aws_call_the_delegate_makes_and_no_wildcards(policy: dict[str, Any]) -> None:
    allowed = {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in _actions(s)}
    assert required_iam_actions() <= allowed, sorted(required_iam_actions() - allowed)
    assert all("*" not in action for action in allowed), "service-wide wildcards are not least privilege"
    [pass_role] = [s for s in policy["Statement"] if "iam:PassRole" in _actions(s)]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    [kms] = [s for s in policy["Statement"] if "kms:Decrypt" in _actions(s)]
    assert set(kms["Condition"]["StringLike"]["kms:ViaService"]) == {
        "secretsmanager.*.amazonaws.com",
        "ssm.*.amazonaws.com",
    }


def test_token_comes_from_secrets_manager_never_plain_text(template: dict[str, Any]) -> None:
    container = _container(template)
    secrets = [s for s in container["Secrets"] if isinstance(s, dict) and "Name" in s]
    assert {"Name": "OUTRIDER_DELEGATE_TOKEN", "ValueFrom": {"Ref": "TokenSecretArn"}} in secrets
    assert all("TOKEN" not in e["Name"] for e in container["Environment"])
    param = template["Parameters"]["TokenSecretArn"]
    assert "Default" not in param and ":secretsmanager:" in param["AllowedPattern"]
    # The execution role (which injects secrets) may read the token secret and the optional CA
    # bundle, nothing else.
    statements = template["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [read] = [s for s in statements if "Action" in s and "secretsmanager:GetSecretValue" in _actions(s)]
    assert read["Resource"] == [
        {"Ref": "TokenSecretArn"},
        {"Fn::If": ["HasCaCert", {"Ref": "CaCertSecretArn"}, {"Ref": "AWS::NoValue"}]},
    ]


def test_template_task_definition_file_and_dockerfile_agree(template: dict[str, Any]) -> None:
    container = _container(template)
    file_doc = json.loads(TASK_DEFINITION.read_text())
    [file_container] = file_doc["containerDefinitions"]
    props = template["Resources"]["TaskDefinition"]["Properties"]
    assert props["NetworkMode"] == file_doc["networkMode"] == "awsvpc"
    assert props["RequiresCompatibilities"] == file_doc["requiresCompatibilities"] == ["FARGATE", "EC2"]
    assert {e["Name"] for e in container["Environment"]} == {e["name"] for e in file_container["environment"]}
    assert {e["name"]: e["value"] for e in file_container["environment"]}["OUTRIDER_INSTALL_KIND"] == "ecs"
    assert [s["name"] for s in file_container["secrets"]] == ["OUTRIDER_DELEGATE_TOKEN"]
    template_mounts = {m["ContainerPath"] for m in container["MountPoints"]}
    assert template_mounts == {m["containerPath"] for m in file_container["mountPoints"]}
    # ECS copies a VOLUME's content and owner into the bind mount at the same path; that is what
    # makes these paths writable for the image's non-root user with a read-only root filesystem.
    volume_lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("VOLUME ")]
    dockerfile_volumes = {p for line in volume_lines for p in json.loads(line.removeprefix("VOLUME "))}
    assert template_mounts == dockerfile_volumes
    assert container["ReadonlyRootFilesystem"] is file_container["readonlyRootFilesystem"] is True
    assert container["LogConfiguration"]["LogDriver"] == file_container["logConfiguration"]["logDriver"] == "awslogs"


# --- against moto -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _document(response: dict[str, Any]) -> Any:
    """The policy document of a GetRolePolicy answer. boto3 decodes AWS's URL-encoded JSON into a dict;
    moto's CloudFormation stores the template's mapping as Python's repr of it, which boto3 then
    hands over as a string."""
    document = response["PolicyDocument"]
    if isinstance(document, str):
        try:
            return json.loads(document)
        except json.JSONDecodeError:
            return ast.literal_eval(document)
    return document


def _token_secret(endpoint: str) -> str:
    arn: str = _client("secretsmanager", endpoint).create_secret(
        Name=f"outrider/delegate-token-{uuid.uuid4().hex[:8]}", SecretString="ordt_not_a_real_token"
    )["ARN"]
    return arn


def test_task_definition_registers_against_ecs(moto_endpoint: str) -> None:
    secret_arn = _token_secret(moto_endpoint)
    values = {
        "EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/outrider-delegate-execution",
        "TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/outrider-delegate-task",
        "IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/outrider-delegate:0.1.0",
        "CONTROL_PLANE": "outrider.example.internal:7600",
        "SELECTORS": "prod,eu",
        "TOKEN_SECRET_ARN": secret_arn,
        "LOG_GROUP": "/ecs/outrider-delegate",
        "REGION": REGION,
    }
    # The documented way to fill it in is envsubst; Template uses the same ${NAME} syntax and
    # raises on a placeholder this list does not know.
    rendered = json.loads(string.Template(TASK_DEFINITION.read_text()).substitute(values))
    ecs = _client("ecs", moto_endpoint)
    registered = ecs.register_task_definition(**rendered)["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition=registered["taskDefinitionArn"])["taskDefinition"]
    assert described["networkMode"] == "awsvpc"
    assert set(described["requiresCompatibilities"]) == {"FARGATE", "EC2"}
    assert described["taskRoleArn"] == values["TASK_ROLE_ARN"]
    [container] = described["containerDefinitions"]
    assert container["secrets"] == [{"name": "OUTRIDER_DELEGATE_TOKEN", "valueFrom": secret_arn}]
    assert "ordt_not_a_real_token" not in json.dumps(described)
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert "OUTRIDER_DELEGATE_TOKEN" not in env
    assert env["OUTRIDER_INSTALL_KIND"] == "ecs" and env["OUTRIDER_CONTROL_PLANE"] == values["CONTROL_PLANE"]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert container["logConfiguration"]["options"]["awslogs-group"] == values["LOG_GROUP"]


def test_template_deploys_and_task_role_carries_the_iam_policy(moto_endpoint: str, policy: dict[str, Any]) -> None:
    ec2 = _client("ec2", moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"d-{uuid.uuid4().hex[:8]}", Description="d", VpcId=vpc)["GroupId"]
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    _client("ecs", moto_endpoint).create_cluster(clusterName=cluster)
    secret_arn = _token_secret(moto_endpoint)
    stack = f"outrider-{uuid.uuid4().hex[:8]}"
    params = {
        "ControlPlane": "outrider.example.internal:7600",
        "TokenSecretArn": secret_arn,
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/outrider-delegate:0.1.0",
        "Cluster": cluster,
        "Subnets": subnet,
        "SecurityGroups": group,
        "Selectors": "prod,eu",
    }
    cfn = _client("cloudformation", moto_endpoint)
    cfn.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    assert set(resources) == {"LogGroup", "ExecutionRole", "TaskRole", "TaskDefinition", "Service"}
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}

    iam = _client("iam", moto_endpoint)
    task_role = resources["TaskRole"]["PhysicalResourceId"]
    assert iam.list_role_policies(RoleName=task_role)["PolicyNames"] == ["outrider-delegate"]
    deployed = _document(iam.get_role_policy(RoleName=task_role, PolicyName="outrider-delegate"))
    assert deployed == policy
    execution = _document(
        iam.get_role_policy(
            RoleName=resources["ExecutionRole"]["PhysicalResourceId"], PolicyName="outrider-delegate-execution"
        )
    )
    statements = [s for s in execution["Statement"] if s]  # moto leaves AWS::NoValue list items as None
    [read] = [s for s in statements if "secretsmanager:GetSecretValue" in _actions(s)]
    assert [r for r in ([read["Resource"]] if isinstance(read["Resource"], str) else read["Resource"]) if r] == [
        secret_arn
    ]
