"""Everything a Lambda end-to-end test needs: moto over HTTP, a control plane, a delegate, the CLI.

The delegate reaches AWS through AWS_ENDPOINT_URL (moto, or the fault proxy in front of it) with
dummy keys; the control plane gets no AWS settings at all.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from tests.harness import DelegateProcess, ServerProcess, admin_init, run_cli, wait_until

REGION = "us-east-1"
ACCOUNT = "123456789012"
EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-exec"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
FAST = ["--lease-seconds", "3", "--heartbeat-seconds", "0.5", "--poll-timeout-seconds", "5"]


def app_zip(message: str, module: str = "app") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            zipfile.ZipInfo(f"{module}.py", (2024, 1, 1, 0, 0, 0)),
            f"def handler(event, context):\n    return {message!r}\n",
        )
    return buf.getvalue()


def moto_server() -> tuple[ThreadedMotoServer, str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: start every test from an empty AWS.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    return server, url


@dataclass
class LambdaStack:
    workdir: Path
    db_url: str
    moto_url: str
    delegate_aws_url: str  # what the delegate uses: moto itself or a proxy in front of it
    selectors: tuple[str, ...] = ("aws",)
    server: ServerProcess | None = None
    delegates: list[DelegateProcess] = field(default_factory=list)
    api_key: str = ""
    token: str = ""
    server_flags: list[str] = field(default_factory=lambda: list(FAST))
    delegate_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> LambdaStack:
        self.api_key = admin_init(self.db_url)
        self.server = ServerProcess(self.db_url, self.workdir, extra=self.server_flags).start()
        self.token = json.loads(self.cli("token", "create", "vpc", "-o", "json").stdout)["token"]
        self.add_delegate("d1")
        session = self.session()
        iam = session.client("iam", endpoint_url=self.moto_url)
        iam.create_role(
            RoleName="lambda-exec",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        return self

    def add_delegate(self, name: str, env: dict[str, str] | None = None) -> DelegateProcess:
        assert self.server is not None
        d = DelegateProcess(
            self.server.address,
            self.token,
            name,
            self.workdir,
            selectors=self.selectors,
            env={**AWS_ENV, "AWS_ENDPOINT_URL": self.delegate_aws_url, **self.delegate_env, **(env or {})},
        ).start()
        self.delegates.append(d)
        wait_until(lambda: "registered" in d.log_text(), 30, message=f"delegate {name} to register")
        return d

    def stop(self) -> None:
        for d in self.delegates:
            d.kill()
        if self.server is not None:
            self.server.stop()

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing-secret"
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.moto_url)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self.server is not None
        env = {
            "OUTRIDER_SERVER": self.server.address,
            "OUTRIDER_API_KEY": self.api_key,
            "OUTRIDER_INSECURE": "1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }  # the control plane side must never need AWS
        return run_cli(*args, env=env, timeout=timeout)

    def apply_yaml(self, text: str, name: str = "config.yaml") -> subprocess.CompletedProcess[str]:
        path = self.workdir / name
        path.write_text(text)
        return self.cli("apply", "-f", str(path))

    def deploy(self, workflow: str, app: str, *extra: str) -> tuple[int, dict[str, Any], str]:
        proc = self.cli("deploy", workflow, "--app", app, "-o", "json", *extra)
        doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return proc.returncode, doc, proc.stderr


def shop_config(
    *,
    bucket: str = "shop-artifacts",
    functions: str | None = None,
    memory: int | None = None,
    credentials: str = "",
    env_override: str = "LOG_LEVEL: debug",
    app: str = "shop",
) -> str:
    functions = (
        functions
        or """
    - runtime: python3.12
      handler: app.handler
      environment: {LOG_LEVEL: info, GREETING: hello}
      tags: {team: orders}
"""
    )
    override_memory = f"\n      memorySize: {memory}" if memory else ""
    text = f"""
kind: CloudProvider
name: aws-dev
spec:
  type: aws
  delegateSelectors: [aws]{credentials}
---
kind: Application
name: shop
---
kind: Service
application: shop
name: orders
spec:
  deploymentType: AWS_LAMBDA
  artifact:
    source: s3
    cloudProvider: aws-dev
    bucket: {bucket}
    key: "orders/orders-*.zip"
  functions:{functions}
---
kind: Environment
application: shop
name: dev
spec:
  type: NON_PROD
  infrastructure:
    - name: default
      cloudProvider: aws-dev
      region: {REGION}
      executionRole: "{EXEC_ROLE}"
  overrides:
    - service: orders
      environment: {{{env_override}}}{override_memory}
---
kind: Workflow
application: shop
name: orders-dev
spec:
  strategy: basic
  service: orders
  environment: dev
  infrastructure: default
  rollbackOnFailure: true
"""
    if app != "shop":
        text = text.replace("name: shop\n", f"name: {app}\n").replace("application: shop\n", f"application: {app}\n")
    return text
