"""Typed wrapper of AWS STS: AssumeRole (for CloudProvider credentials) and GetCallerIdentity.

Network I/O in every method; see `base.py` for retry and error translation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from delegate.aws.base import ServiceClient
from delegate.aws.errors import AwsError


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime  # timezone-aware

    def __repr__(self) -> str:  # never print the secret parts
        return f"TemporaryCredentials(access_key_id={self.access_key_id!r}, expiration={self.expiration})"


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str


class StsClient(ServiceClient):
    SERVICE = "sts"

    def assume_role(
        self,
        role_arn: str,
        *,
        session_name: str,
        external_id: str | None = None,
        duration_seconds: int = 3600,
    ) -> TemporaryCredentials:
        params: dict[str, object] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": duration_seconds,
        }
        if external_id:
            params["ExternalId"] = external_id
        response = self._call("sts:AssumeRole", f"role {role_arn}", **params)
        creds = response.get("Credentials") or {}
        expiration = creds.get("Expiration")
        if not isinstance(expiration, datetime) or not creds.get("AccessKeyId"):
            raise AwsError(
                f"sts:AssumeRole on role {role_arn} returned no credentials",
                operation="sts:AssumeRole",
                target=f"role {role_arn}",
            )
        return TemporaryCredentials(
            access_key_id=str(creds["AccessKeyId"]),
            secret_access_key=str(creds["SecretAccessKey"]),
            session_token=str(creds["SessionToken"]),
            expiration=expiration,
        )

    def get_caller_identity(self) -> CallerIdentity:
        response = self._call("sts:GetCallerIdentity", "")
        return CallerIdentity(
            account=str(response.get("Account", "")),
            arn=str(response.get("Arn", "")),
            user_id=str(response.get("UserId", "")),
        )
