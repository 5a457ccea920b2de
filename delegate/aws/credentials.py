"""Turn a CloudProvider's credentials description into an `AwsSession`, on the delegate only.

- `InheritCredentials`: boto3's default chain on the delegate host (environment, shared config,
  ECS task role, instance profile), or the static keys the provider was built with (local demo).
- `AssumeRoleCredentials`: STS AssumeRole (with ExternalId and a session name) made from the
  inherited credentials. The result is a botocore `DeferredRefreshableCredentials`: the first AWS call
  fetches it, botocore refreshes it in the background window before expiry (advisory 15 min, blocking
  at 10 min) under its own lock, so long deployments never see an expired token. One refreshable
  object is cached per (role, external id, session name) and shared by every task and thread.

Credentials never leave this process. `on_credentials(access_key_id, secret, token)` is called with
every set fetched from STS so the caller can mask the values in logs.

I/O: STS calls happen lazily, inside botocore, when a client first signs a request (and on refresh).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider as _BotoCredentialProvider
from botocore.credentials import DeferredRefreshableCredentials

from delegate.aws.retry import RetryPolicy
from delegate.aws.session import AwsSession
from delegate.aws.sts_client import StsClient
from shared.payloads import AssumeRoleCredentials, InheritCredentials

CredentialsListener = Callable[[str, str, str], None]

# STS's minimum is 900 s, but botocore starts refreshing 15 minutes before expiry: an hour keeps
# refreshes rare while staying well within every role's default MaxSessionDuration.
DEFAULT_DURATION_SECONDS = 3600


@dataclass(frozen=True)
class StaticKeys:
    """Explicit base credentials (local endpoints and demos); production uses the default chain."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"StaticKeys(access_key_id={self.access_key_id!r})"


class CredentialProvider:
    """Builds and caches sessions for `InheritCredentials | AssumeRoleCredentials`. Thread-safe."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        base_keys: StaticKeys | None = None,
        sts_region: str = "us-east-1",
        duration_seconds: int = DEFAULT_DURATION_SECONDS,
        on_credentials: CredentialsListener | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._base_keys = base_keys
        self._sts_region = sts_region
        self._duration = duration_seconds
        self._on_credentials = on_credentials
        self._now = now or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._clock = clock
        self._retry = retry
        self._lock = threading.Lock()
        self._base: AwsSession | None = None
        self._assumed: dict[tuple[str, str | None, str], AwsSession] = {}

    def session(self, credentials: InheritCredentials | AssumeRoleCredentials) -> AwsSession:
        """The session for these credentials (cached; assumed-role ones refresh themselves)."""
        if isinstance(credentials, InheritCredentials):
            return self._base_session()
        key = (credentials.role_arn, credentials.external_id, credentials.session_name)
        with self._lock:
            cached = self._assumed.get(key)
            if cached is not None:
                return cached
        refreshable = DeferredRefreshableCredentials(
            refresh_using=lambda: self._assume(credentials),
            method="outrider-assume-role",
            time_fetcher=self._now,
        )
        botocore_session = botocore.session.get_session()
        # Put our refreshable credentials ahead of every other provider in this session's chain.
        resolver = botocore_session.get_component("credential_provider")
        resolver.providers.insert(0, _FixedCredentials(refreshable))
        session = AwsSession(
            boto3.Session(botocore_session=botocore_session),
            description=f"assumed role {credentials.role_arn}",
        )
        with self._lock:
            # Another thread may have won the race; keep one refreshable object per role.
            return self._assumed.setdefault(key, session)

    def _base_session(self) -> AwsSession:
        with self._lock:
            if self._base is None:
                if self._base_keys is not None:
                    boto = boto3.Session(
                        aws_access_key_id=self._base_keys.access_key_id,
                        aws_secret_access_key=self._base_keys.secret_access_key,
                        aws_session_token=self._base_keys.session_token,
                    )
                    description = "static keys"
                else:
                    boto = boto3.Session()
                    description = "default credential chain"
                self._base = AwsSession(boto, description=description)
            return self._base

    def _assume(self, credentials: AssumeRoleCredentials) -> dict[str, Any]:
        """botocore's refresh callback: one STS AssumeRole from the delegate's own credentials."""
        sts = StsClient(
            self._base_session(),
            region=self._sts_region,
            endpoint_url=self._endpoint_url,
            sleep=self._sleep,
            clock=self._clock,
            retry=self._retry,
        )
        temporary = sts.assume_role(
            credentials.role_arn,
            session_name=credentials.session_name,
            external_id=credentials.external_id,
            duration_seconds=self._duration,
        )
        if self._on_credentials is not None:
            self._on_credentials(temporary.access_key_id, temporary.secret_access_key, temporary.session_token)
        return {
            "access_key": temporary.access_key_id,
            "secret_key": temporary.secret_access_key,
            "token": temporary.session_token,
            "expiry_time": temporary.expiration.isoformat(),
        }


class _FixedCredentials(_BotoCredentialProvider):  # type: ignore[misc]  # botocore is untyped
    """A botocore credential provider that always answers with one (refreshable) credentials object."""

    METHOD = "outrider-assume-role"
    CANONICAL_NAME = "OutriderAssumeRole"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials
