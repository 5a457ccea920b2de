"""Acceptance (issue 5): credentials and secret values never reach the control plane.

A real control plane, delegate and CLI deploy a Lambda function (moto over HTTP, reached through the
fault proxy) whose environment holds three secrets, one from each delegate-side source:

  DB_PASSWORD  ${secrets.db-password}  the delegate's OUTRIDER_SECRET_DB_PASSWORD
  API_TOKEN    ${secrets.api-token}    a multi-line file in the delegate's --secrets-dir
  SM_SECRET    ${secrets.sm-secret}    AWS Secrets Manager (read with the assumed role)
  DSN          "postgres://app:${secrets.db-password}@db:5432/shop"   a secret inside a longer value

with CloudProvider credentials `assumeRole` + externalId (moto's STS issues the temporary keys). It
deploys, deploys again (so the stored snapshot holds the secrets read back from AWS), rolls back
(the delegate must recover the masked values from AWS), then deploys once more while "AWS" refuses
the configuration with an error that quotes the environment, as Lambda's 4 KB error really does.

Then it checks that AWS got the real values and that none of them, nor the delegate's own AWS
secret key, nor the temporary credentials moto issued (read from moto's STS backend), nor the
delegate token or API key, appears in any encoding in: the control plane's SQLite file, WAL and
shared-memory files (while running and after shutdown), its log, every stored log line
(`outrider logs`), and every execution document (`executions get -o json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.sts.models import sts_backends

from tests.harness import DelegateProcess, ServerProcess, admin_init, wait_until
from tests.integration.security.kit import find_leaks, query
from tests.support.aws_fault_proxy import AwsFaultProxy, Rule
from tests.support.lambda_stack import ACCOUNT, AWS_ENV, FAST, LambdaStack, app_zip, moto_server, shop_config

FN = "shop-orders-dev"
MASK = "**********"
DB_PASSWORD = "env-s3cret Vh7#p@ss/w0rd+!"
FILE_SECRET = "\n".join(
    [
        "-----BEGIN OUTRIDER TOKEN-----",
        "file-secret-line-one-3Jk9x",
        "file-secret-line-two-Qz81y",
        "-----END OUTRIDER TOKEN-----",
    ]
)
SM_SECRET = "sm-secret-value-Xq2/+=9&k"
DELEGATE_KEY_ID = "AKIAOUTRIDERSECTEST1"
DELEGATE_SECRET_KEY = "delegate-own-secret-key-1b7e4c9d0a2f"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"
EXTERNAL_ID = "ext-sec-1"
ENVIRONMENT = """
    - runtime: python3.12
      handler: app.handler
      environment:
        DB_PASSWORD: "${secrets.db-password}"
        API_TOKEN: "${secrets.api-token}"
        SM_SECRET: "${secrets.sm-secret}"
        DSN: "postgres://app:${secrets.db-password}@db:5432/shop"
"""
CREDENTIALS = f'\n  credentials:\n    assumeRole: {{roleArn: "{ROLE}", externalId: "{EXTERNAL_ID}"}}'


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[LambdaStack, AwsFaultProxy]]:
    moto, moto_url = moto_server()
    proxy = AwsFaultProxy(moto_url).start()
    db_url = f"sqlite:///{tmp_path / 'cp.db'}"
    stack = LambdaStack(tmp_path, db_url, moto_url, proxy.url)
    try:
        stack.api_key = admin_init(db_url)
        stack.server = ServerProcess(db_url, tmp_path, extra=FAST).start()
        stack.token = json.loads(stack.cli("token", "create", "vpc", "-o", "json").stdout)["token"]
        secrets_dir = tmp_path / "secrets"
        secrets_dir.mkdir()
        (secrets_dir / "api-token").write_text(FILE_SECRET + "\n")
        env = {
            **AWS_ENV,
            "AWS_ACCESS_KEY_ID": DELEGATE_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DELEGATE_SECRET_KEY,
            "AWS_ENDPOINT_URL": proxy.url,
            "OUTRIDER_SECRET_DB_PASSWORD": DB_PASSWORD,
        }
        delegate = DelegateProcess(
            stack.server.address,
            stack.token,
            "d1",
            tmp_path,
            selectors=("aws",),
            env=env,
            extra=["--secrets-dir", str(secrets_dir)],
        ).start()
        stack.delegates.append(delegate)
        wait_until(lambda: "registered" in delegate.log_text(), 30, message="delegate to register")
        stack.client("iam").create_role(RoleName="lambda-exec", AssumeRolePolicyDocument="{}")
        stack.client("secretsmanager").create_secret(Name="sm-secret", SecretString=SM_SECRET)
        s3 = stack.client("s3")
        s3.create_bucket(Bucket="shop-artifacts")
        for n in (1, 2):
            s3.put_object(Bucket="shop-artifacts", Key=f"orders/orders-{n}.zip", Body=app_zip(f"v{n}"))
        yield stack, proxy
    finally:
        stack.stop()
        proxy.stop()
        moto.stop()


def _files(workdir: Path, *names: str) -> dict[str, bytes]:
    return {name: (workdir / name).read_bytes() for name in names if (workdir / name).exists()}


@pytest.mark.slow
def test_no_credential_or_secret_value_reaches_the_control_plane(
    stack: tuple[LambdaStack, AwsFaultProxy],
) -> None:
    lam, proxy = stack
    lambda_client = lam.client("lambda")
    assert lam.apply_yaml(shop_config(functions=ENVIRONMENT, credentials=CREDENTIALS)).returncode == 0
    real_environment = {
        "DB_PASSWORD": DB_PASSWORD,
        "API_TOKEN": FILE_SECRET,
        "SM_SECRET": SM_SECRET,
        "DSN": f"postgres://app:{DB_PASSWORD}@db:5432/shop",
        "LOG_LEVEL": "debug",
    }

    code, first, err = lam.deploy("orders-dev", "shop", "--artifact", "orders/orders-1.zip")
    assert code == 0 and first["status"] == "SUCCEEDED", err
    assert lambda_client.get_function_configuration(FunctionName=FN)["Environment"]["Variables"] == real_environment
    code, second, err = lam.deploy("orders-dev", "shop", "--artifact", "orders/orders-2.zip")
    assert code == 0 and second["functions"][0]["version"] == "2", err

    # The snapshot the second deployment stored was read back from AWS, so it had the real values:
    # it is stored with every secret-fed variable masked.
    [(document,)] = query(lam.db_url, "SELECT document FROM executions WHERE id = ?", (second["id"],))
    [snapshot] = json.loads(document)["snapshots"]
    stored = snapshot["configuration"]["Environment"]["Variables"]
    assert stored == {**dict.fromkeys(("DB_PASSWORD", "API_TOKEN", "SM_SECRET", "DSN"), MASK), "LOG_LEVEL": "debug"}

    # Rollback restores version 1's configuration: the delegate recovers the masked values from AWS.
    rolled = lam.cli("rollback", second["id"], "-o", "json")
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(rolled.stdout)["status"] == "SUCCEEDED"
    assert lambda_client.get_function_configuration(FunctionName=FN)["Environment"]["Variables"] == real_environment
    assert lambda_client.get_alias(FunctionName=FN, Name="dev")["FunctionVersion"] == "1"

    # "AWS" refuses a configuration change with an error quoting the environment (as Lambda's 4 KB
    # limit error does): the message reaches the logs, the task error and the execution, masked.
    quoted = json.dumps(real_environment)
    proxy.rules.append(
        Rule(
            path=rf"PUT /2015-03-31/functions/{FN}/configuration",
            status=400,
            code="InvalidParameterValueException",
            message=f"Lambda was unable to configure your environment variables. String measured: {quoted}",
            count=1,
        )
    )
    assert lam.apply_yaml(shop_config(functions=ENVIRONMENT, credentials=CREDENTIALS, memory=256)).returncode == 0
    code, refused, err = lam.deploy("orders-dev", "shop", "--artifact", "orders/orders-2.zip")
    assert code == 1 and refused["status"] == "ROLLED_BACK", err
    assert "String measured" in refused["error"] and MASK in refused["error"]
    assert proxy.faults == 1

    # The role was assumed with the external id; collect the temporary credentials moto issued.
    assumed = [r for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.role_arn == ROLE]
    assert assumed and {r.external_id for r in assumed} == {EXTERNAL_ID}
    secrets = {
        "DB_PASSWORD": DB_PASSWORD,
        "API_TOKEN": FILE_SECRET,
        "SM_SECRET": SM_SECRET,
        "delegate AWS secret key": DELEGATE_SECRET_KEY,
        "delegate AWS access key id": DELEGATE_KEY_ID,
        "delegate token": lam.token,
        "admin API key": lam.api_key,
    }
    for n, role in enumerate(assumed):
        secrets[f"assumed secret key {n}"] = role.secret_access_key
        secrets[f"assumed session token {n}"] = role.session_token
        secrets[f"assumed access key id {n}"] = role.access_key_id

    # The scanner finds what it looks for (a control against a vacuous pass).
    assert len(find_leaks({"control": quoted.encode()}, secrets)) >= 4
    executions = [first["id"], second["id"], json.loads(rolled.stdout)["id"], refused["id"]]
    seen: dict[str, bytes] = {}
    for execution_id in executions:
        logs = lam.cli("logs", execution_id)
        assert logs.returncode == 0, logs.stderr
        assert "Function shop-orders-dev" in logs.stdout  # the scan below is not of an empty log
        seen[f"outrider logs {execution_id}"] = logs.stdout.encode()
        got = lam.cli("executions", "get", execution_id, "-o", "json")
        assert got.returncode == 0, got.stderr
        seen[f"executions get {execution_id}"] = got.stdout.encode()
    assert MASK in seen[f"outrider logs {refused['id']}"].decode()  # the quoted environment, masked

    # Scan while the control plane runs (the WAL holds recent pages), then after it checkpointed.
    workdir = lam.workdir
    seen.update(_files(workdir, "cp.db", "cp.db-wal", "cp.db-shm", "server.log"))
    assert {"cp.db", "server.log"} <= set(seen)
    assert find_leaks(seen, secrets) == []
    assert lam.server is not None
    lam.server.stop()
    assert find_leaks(_files(workdir, "cp.db", "cp.db-wal", "server.log"), secrets) == []
    # The delegate's own log stays in the VPC, but it holds none of them either.
    assert find_leaks({"delegate log": lam.delegates[0].log_text().encode()}, secrets, shapes=False) == []
