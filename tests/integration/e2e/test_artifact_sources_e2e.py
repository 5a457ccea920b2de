"""An Artifactory source through the whole system: versions listed by a delegate, the zip downloaded,
verified and sent inline, the password a delegate-side secret that never shows up anywhere."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

from tests.integration.artifacts.fakes.artifactory import FakeArtifactory
from tests.support.lambda_stack import LambdaStack, app_zip, shop_config

PASSWORD = "art-pa55-w0rd-xyz"


def _config(url: str) -> str:
    text = shop_config()
    text = text.replace(
        """    source: s3
    cloudProvider: aws-dev
    bucket: shop-artifacts
    key: "orders/orders-*.zip\"""",
        """    source: artifactory
    server: artifactory-main
    repository: libs-release
    path: "orders/orders-*.zip\"""",
    )
    return (
        text
        + f"""
---
kind: ArtifactServer
name: artifactory-main
spec:
  type: artifactory
  url: {url}
  username: deploy
  passwordSecret: artifactory-password
"""
    )


def test_artifactory_source_deploys_and_bad_bytes_deploy_nothing(tmp_path: Path, moto_url: str) -> None:
    with FakeArtifactory(users={"deploy": PASSWORD}) as artifactory:
        artifactory.create_repo("libs-release")
        v1 = app_zip("v1")
        artifactory.put("libs-release", "orders/orders-1.zip", v1)
        stack = LambdaStack(
            tmp_path,
            f"sqlite:///{tmp_path / 'cp.db'}",
            moto_url,
            moto_url,
            delegate_env={"OUTRIDER_SECRET_ARTIFACTORY_PASSWORD": PASSWORD},
        ).start()
        try:
            applied = stack.apply_yaml(_config(artifactory.url))
            assert applied.returncode == 0, applied.stderr
            code, doc, err = stack.deploy("orders-dev", "shop", "--follow")
            assert code == 0, err
            assert doc["artifact"]["version"] == "orders/orders-1.zip"
            expected_sha = base64.b64encode(hashlib.sha256(v1).digest()).decode()
            assert doc["functions"][0]["codeSha256"] == expected_sha

            artifactory.put("libs-release", "orders/orders-2.zip", app_zip("v2"))
            listed = stack.cli("artifacts", "list", "orders", "--app", "shop", "-o", "json")
            assert listed.returncode == 0, listed.stderr
            assert [v["version"] for v in json.loads(listed.stdout)] == ["orders/orders-1.zip", "orders/orders-2.zip"]

            # The server's bytes no longer match its checksums: refused, nothing deployed.
            artifactory.corrupt("libs-release", "orders/orders-2.zip", app_zip("v9"))
            code, failed, err = stack.deploy("orders-dev", "shop")
            assert code == 1
            assert failed["status"] in {"FAILED", "ROLLED_BACK"}
            assert "sha256" in (failed["error"] or "").lower() or "checksum" in (failed["error"] or "").lower()
            lam = stack.client("lambda")
            assert lam.get_function_configuration(FunctionName="shop-orders-dev")["CodeSha256"] == expected_sha
            assert [
                v["Version"] for v in lam.list_versions_by_function(FunctionName="shop-orders-dev")["Versions"]
            ] == ["$LATEST", "1"]

            logs = stack.cli("logs", failed["id"]).stdout + stack.cli("logs", doc["id"]).stdout
            db = sqlite3.connect(str(tmp_path / "cp.db"))
            stored = b"".join(bytes(str(r), "utf-8") for r in db.execute("SELECT * FROM tasks"))
            db.close()
            for where in (logs, stack.delegates[0].log_text(), stored.decode(errors="replace")):
                assert PASSWORD not in where
        finally:
            stack.stop()
