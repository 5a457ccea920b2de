"""Typed wrappers of AWS Secrets Manager and SSM Parameter Store, for `${secrets.NAME}` resolution.

Both return `None` when the secret/parameter does not exist, so the resolver can try the next place;
every other failure (access denied, KMS, throttling after retries) raises `AwsError`. The values
returned are secrets: callers must register them for masking before logging anything.
Network I/O in every method.
"""

from __future__ import annotations

import base64

from delegate.aws.base import ServiceClient
from delegate.aws.errors import AwsNotFound


class SecretsManagerClient(ServiceClient):
    SERVICE = "secretsmanager"

    def get_secret_value(self, name: str) -> str | None:
        """The secret's current string value (binary secrets decoded as UTF-8), or None if missing."""
        try:
            response = self._call("secretsmanager:GetSecretValue", f"secret {name}", SecretId=name)
        except AwsNotFound:
            return None
        if response.get("SecretString") is not None:
            return str(response["SecretString"])
        binary = response.get("SecretBinary")
        if isinstance(binary, bytes | bytearray):
            return bytes(binary).decode("utf-8")
        if isinstance(binary, str):  # some endpoints hand back base64 text
            return base64.b64decode(binary).decode("utf-8")
        return None


class SsmClient(ServiceClient):
    SERVICE = "ssm"

    def get_parameter(self, name: str, *, decrypt: bool = True) -> str | None:
        """The parameter's value (SecureString decrypted when `decrypt`), or None if missing."""
        try:
            response = self._call("ssm:GetParameter", f"parameter {name}", Name=name, WithDecryption=decrypt)
        except AwsNotFound:
            return None
        parameter = response.get("Parameter") or {}
        value = parameter.get("Value")
        return None if value is None else str(value)


class AwsSecretStore:
    """Both secret services behind the one object the secrets resolver asks (its `SecretStore`)."""

    def __init__(self, secrets_manager: SecretsManagerClient, ssm: SsmClient) -> None:
        self._secrets_manager = secrets_manager
        self._ssm = ssm

    def get_secret_value(self, name: str) -> str | None:
        return self._secrets_manager.get_secret_value(name)

    def get_parameter(self, name: str) -> str | None:
        return self._ssm.get_parameter(name, decrypt=True)
