"""`make demo`: the whole loop on one machine, against an embedded AWS endpoint on loopback.

Starts a moto server (AWS), a control plane on SQLite and one delegate, applies examples/hello-lambda,
deploys a first artifact, deploys a second, rolls back to the first, prints what happened, and stops
everything it started, also on Ctrl-C. Exit code 0 when every step did what it should.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT / "hello-lambda"
BIN = Path(sys.executable).parent
REGION = "us-east-1"
BUCKET = "hello-artifacts"
FUNCTION = "hello-greeter-dev"
console = Console(highlight=False, soft_wrap=True, width=120)
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo-secret",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class DemoFailed(Exception):
    pass


def build_zip(version: int) -> bytes:
    source = (EXAMPLE / "src" / "app.py").read_text().replace("GREETING_VERSION = 1", f"GREETING_VERSION = {version}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("app.py", date_time=(2024, 1, 1, 0, 0, 0))  # fixed time: same bytes, same sha
        zf.writestr(info, source)
    return buf.getvalue()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise DemoFailed(f"timed out waiting for {what}")


@contextmanager
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log would drown the demo
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class Processes:
    """Child processes the demo started; all stopped on exit, whatever happened."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(args, stdout=log, stderr=log, env=env)
        self.children.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.children):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                console.print(f"[yellow]{name} did not stop in time; killing it[/]")
                proc.kill()
                proc.wait(5)


def outrider(env: dict[str, str], *args: str, show: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(BIN / "outrider"), *args], env=env, capture_output=True, text=True, check=False)
    if show:
        if proc.stdout.strip():
            console.print(proc.stdout.rstrip(), markup=False)
        if proc.stderr.strip():
            console.print(proc.stderr.rstrip(), style="dim", markup=False)
    return proc


def step(title: str) -> None:
    console.print()
    console.rule(f"[bold cyan]{title}")


def run(workdir: Path) -> None:
    procs = Processes(workdir)
    try:
        with moto_endpoint() as endpoint:
            env = {**os.environ, **DUMMY_AWS, "AWS_ENDPOINT_URL": endpoint, "NO_COLOR": "1"}
            aws = boto3.session.Session(
                region_name=REGION, aws_access_key_id="demo", aws_secret_access_key="demo-secret"
            )
            s3 = aws.client("s3", endpoint_url=endpoint)
            iam = aws.client("iam", endpoint_url=endpoint)
            lam = aws.client("lambda", endpoint_url=endpoint)

            step("1. An embedded AWS endpoint (moto) on loopback")
            iam.create_role(
                RoleName="hello-lambda-exec",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )
            s3.create_bucket(Bucket=BUCKET)
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
            s3.put_object(Bucket=BUCKET, Key="greeter/greeter-1.zip", Body=build_zip(1))
            console.print(f"AWS at {endpoint}: role hello-lambda-exec, bucket {BUCKET} with greeter/greeter-1.zip")

            step("2. Control plane (SQLite) and one delegate")
            db = f"sqlite:///{workdir / 'outrider.db'}"
            admin = json.loads(outrider(env, "admin", "init", "--db", db, "-o", "json", show=False).stdout)
            port_file = workdir / "server.port"
            procs.start(
                "control-plane",
                [
                    str(BIN / "outrider"),
                    "server",
                    "--db",
                    db,
                    "--listen",
                    "127.0.0.1:0",
                    "--insecure",
                    "--port-file",
                    str(port_file),
                    "--heartbeat-seconds",
                    "2",
                    "--lease-seconds",
                    "15",
                ],
                env,
            )
            wait_for(port_file.exists, 30, "the control plane to listen")
            address = f"127.0.0.1:{port_file.read_text().strip()}"
            env.update({"OUTRIDER_SERVER": address, "OUTRIDER_API_KEY": admin["apiKey"], "OUTRIDER_INSECURE": "1"})
            token = json.loads(
                outrider(env, "token", "create", "demo", "--selector", "demo", "-o", "json", show=False).stdout
            )
            token_file = workdir / "delegate.token"
            token_file.write_text(token["token"])
            token_file.chmod(0o600)
            procs.start(
                "delegate",
                [
                    str(BIN / "outrider-delegate"),
                    "run",
                    "--control-plane",
                    address,
                    "--token-file",
                    str(token_file),
                    "--name",
                    "demo-delegate",
                    "--selector",
                    "demo",
                    "--insecure",
                    "--spool-dir",
                    str(workdir / "spool"),
                    "--install-kind",
                    "dev",
                ],
                env,
            )
            wait_for(
                lambda: bool(json.loads(outrider(env, "delegates", "list", "-o", "json", show=False).stdout or "[]")),
                30,
                "the delegate to register",
            )
            console.print(f"control plane at {address}, admin API key created, delegate 'demo-delegate' registered")
            outrider(env, "delegates", "list")

            step("3. outrider apply -f examples/hello-lambda/")
            if outrider(env, "apply", "-f", str(EXAMPLE)).returncode != 0:
                raise DemoFailed("apply failed")

            step("4. First deployment: greeter-1.zip")
            first = deploy(env)
            expect(first, "SUCCEEDED", version="1")

            step("5. Second artifact lands: greeter-2.zip")
            s3.put_object(Bucket=BUCKET, Key="greeter/greeter-2.zip", Body=build_zip(2))
            second = deploy(env)
            expect(second, "SUCCEEDED", version="2")

            step("6. The same artifact again: nothing to publish")
            again = deploy(env)
            expect(again, "SUCCEEDED", version="2")
            if again.get("changed"):
                raise DemoFailed("a redeploy of the same artifact changed something")

            step(f"7. outrider rollback {second['id']}")
            proc = outrider(env, "rollback", second["id"], "-o", "json", show=False)
            rolled = json.loads(proc.stdout)
            outrider(env, "executions", "get", rolled["id"])
            if proc.returncode != 0 or rolled["status"] != "SUCCEEDED":
                raise DemoFailed(f"rollback ended {rolled['status']}")
            alias = lam.get_alias(FunctionName=FUNCTION, Name="dev")
            if alias["FunctionVersion"] != "1":
                raise DemoFailed(f"alias dev points at {alias['FunctionVersion']} after the rollback, expected 1")

            step("Summary")
            summary(lam, [first, second, again, rolled])
            step("8. outrider logs (the second deployment)")
            outrider(env, "logs", second["id"])
    finally:
        procs.stop_all()


def deploy(env: dict[str, str]) -> dict[str, Any]:
    proc = outrider(env, "deploy", "greeter-dev", "--app", "hello", "--follow", "-o", "json", show=False)
    if proc.stderr.strip():
        console.print(proc.stderr.rstrip(), markup=False, style="dim")
    try:
        doc: dict[str, Any] = json.loads(proc.stdout)
    except ValueError as exc:
        raise DemoFailed(f"deploy printed no JSON (exit {proc.returncode})") from exc
    outrider(env, "executions", "get", doc["id"])
    return doc


def expect(doc: dict[str, Any], status: str, version: str) -> None:
    if doc["status"] != status:
        raise DemoFailed(f"execution {doc['id']} ended {doc['status']}: {doc.get('error')}")
    [fn] = doc["functions"]
    if fn["version"] != version or fn["aliases"].get("dev") != version:
        raise DemoFailed(f"expected version {version} behind alias dev, got {fn['version']} / {fn['aliases']}")


def summary(lam: Any, docs: list[dict[str, Any]]) -> None:
    table = Table(show_edge=False, box=None, header_style="bold")
    for col in ("execution", "kind", "artifact", "status", "version", "alias dev", "changed"):
        table.add_column(col)
    for d in docs:
        fn = d["functions"][0] if d["functions"] else {}
        table.add_row(
            d["id"],
            d["kind"],
            (d.get("artifact") or {}).get("version", "-"),
            d["status"],
            str(fn.get("version") or "-"),
            str(fn.get("aliases", {}).get("dev", "-")),
            "-" if d["kind"] == "rollback" else ("yes" if d.get("changed") else "no"),
        )
    console.print(table)
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]]
    alias = lam.get_alias(FunctionName=FUNCTION, Name="dev")["FunctionVersion"]
    console.print(
        Panel.fit(
            f"Function [bold]{FUNCTION}[/]: versions {', '.join(versions)}; alias [bold]dev → {alias}[/] "
            "(rolled back from 2)\nThe delegate did every AWS call; the control plane never saw a credential.",
            title="Outrider demo: all steps passed",
            border_style="green",
        )
    )


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="outrider-demo-"))
    # Ctrl-C: turn SIGINT into an exception so the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        run(workdir)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted; everything the demo started has been stopped[/]")
        return 130
    except DemoFailed as exc:
        console.print(f"\n[bold red]demo failed:[/] {exc}\nlogs kept in {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
