"""A Lambda stack whose control plane collects artifacts every few seconds, and trigger helpers.

Reads go through the gRPC `Operator` client (fast enough to poll); what users type goes through
the real CLI. Every wait has a deadline (`wait_until`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from dataclasses import dataclass
from typing import Any

from shared.pb.outrider.v1 import operator_pb2
from tests.harness import DelegateProcess, Operator, ServerProcess, admin_init, run_cli, wait_until
from tests.support.lambda_stack import AWS_ENV, EXEC_ROLE, FAST, REGION, LambdaStack

APP = "shop"
TRIGGER = "orders-on-new-artifact"
FN = "shop-orders-dev"
BUCKET = "shop-artifacts"


@dataclass
class TriggerStack(LambdaStack):
    poll_interval: float = 1.0
    operator: Operator | None = None

    def start(self) -> TriggerStack:
        self.api_key = admin_init(self.db_url)
        extra = [*FAST, "--artifact-poll-interval", str(self.poll_interval)]
        self.server = ServerProcess(self.db_url, self.workdir, extra=extra).start()
        self.operator = Operator(self.server.address, self.api_key)
        self.token = json.loads(self.cli("token", "create", "vpc", "-o", "json").stdout)["token"]
        self.add_delegate("d1")
        self.client("iam").create_role(
            RoleName="lambda-exec",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        return self

    def add_delegate_with(self, name: str, selectors: tuple[str, ...]) -> DelegateProcess:
        assert self.server is not None
        d = DelegateProcess(
            self.server.address,
            self.token,
            name,
            self.workdir,
            selectors=selectors,
            env={**AWS_ENV, "AWS_ENDPOINT_URL": self.delegate_aws_url},
        ).start()
        self.delegates.append(d)
        wait_until(lambda: "registered" in d.log_text(), 30, message=f"delegate {name} to register")
        return d

    def restart_control_plane(self) -> None:
        """SIGKILL, then start again on the same port and database (delegates reconnect)."""
        assert self.server is not None
        self.server.kill()
        self.server.start()

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.close()
        super().stop()

    def cli_wide(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI with a terminal wide enough for every table column (rich truncates to $COLUMNS)."""
        assert self.server is not None
        env = {
            "OUTRIDER_SERVER": self.server.address,
            "OUTRIDER_API_KEY": self.api_key,
            "OUTRIDER_INSECURE": "1",
            "COLUMNS": "400",
        }
        return run_cli(*args, env=env)

    # --- S3 ----------------------------------------------------------------------------------
    def put(self, key: str, body: bytes, bucket: str = BUCKET) -> str:
        """Upload one object version; returns its S3 VersionId."""
        s3 = self.client("s3")
        if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return str(s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"])

    # --- control plane reads -----------------------------------------------------------------
    def triggers(self) -> dict[str, dict[str, Any]]:
        assert self.operator is not None
        docs = json.loads(self.operator.ListTriggers(operator_pb2.ListTriggersRequest(application=APP)).json)
        return {d["name"]: d for d in docs}

    def trigger(self, name: str = TRIGGER) -> dict[str, Any]:
        return self.triggers()[name]

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the application, oldest first."""
        assert self.operator is not None
        docs = json.loads(
            self.operator.ListExecutions(operator_pb2.ListExecutionsRequest(application=APP, limit=500)).json
        )
        return sorted(docs, key=lambda d: (d["createdAt"], d["id"]))

    def triggered(self, name: str = TRIGGER) -> list[dict[str, Any]]:
        return [d for d in self.executions() if d["cause"].get("trigger") == name]

    def wait_collections(self, count: int, name: str = TRIGGER, timeout: float = 30) -> None:
        """Let `count` more successful collections of the trigger's source happen."""
        start = self.trigger(name)["lastSuccess"] or 0
        seen: set[int] = set()

        def advanced() -> bool:
            last = self.trigger(name)["lastSuccess"] or 0
            if last > start:
                seen.add(last)
            return len(seen) >= count

        wait_until(advanced, timeout, interval=0.1, message=f"{count} more collections of {name}")

    def wait_baseline(self, versions: int, name: str = TRIGGER, timeout: float = 30) -> dict[str, Any]:
        return wait_until(
            lambda: (t := self.trigger(name))["baselined"] and t["seenVersions"] == versions and t,
            timeout,
            interval=0.1,
            message=f"trigger {name} to record a baseline of {versions} version(s)",
        )

    def wait_ended(self, execution_id: str, timeout: float = 60) -> dict[str, Any]:
        ended = {"SUCCEEDED", "FAILED", "CANCELLED", "ROLLED_BACK"}
        return wait_until(
            lambda: next((d for d in self.executions() if d["id"] == execution_id and d["status"] in ended), None),
            timeout,
            interval=0.1,
            message=f"execution {execution_id} to end",
        )


def code_sha256(body: bytes) -> str:
    """Lambda's CodeSha256 of a zip: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def trigger_config(
    *,
    bucket: str = BUCKET,
    deployer_selectors: str = "[aws]",
    trigger_on: str = "newArtifact: {}",
    extra: str = "",
) -> str:
    """The shop application: the artifact is read with provider aws-dev (selector aws) and deployed
    with aws-deployer (its own selectors), plus one Trigger on the orders-dev workflow."""
    return f"""
kind: CloudProvider
name: aws-dev
spec:
  type: aws
  delegateSelectors: [aws]
---
kind: CloudProvider
name: aws-deployer
spec:
  type: aws
  delegateSelectors: {deployer_selectors}
---
kind: Application
name: {APP}
---
kind: Service
application: {APP}
name: orders
spec:
  deploymentType: AWS_LAMBDA
  artifact:
    source: s3
    cloudProvider: aws-dev
    bucket: {bucket}
    key: "orders/orders-*.zip"
  functions:
    - runtime: python3.12
      handler: app.handler
---
kind: Environment
application: {APP}
name: dev
spec:
  type: NON_PROD
  infrastructure:
    - name: default
      cloudProvider: aws-deployer
      region: {REGION}
      executionRole: "{EXEC_ROLE}"
---
kind: Workflow
application: {APP}
name: orders-dev
spec:
  service: orders
  environment: dev
  infrastructure: default
---
kind: Trigger
application: {APP}
name: {TRIGGER}
spec:
  workflow: orders-dev
  on:
    {trigger_on}
{extra}"""
