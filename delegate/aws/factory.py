"""The one place a delegate process builds AWS wrappers: credentials x region x endpoint.

`AwsFactory` holds the process-wide `CredentialProvider`, the endpoint (a local endpoint such as moto
in tests and `make demo`; None means AWS, honouring `AWS_ENDPOINT_URL`), the retry policy and the
injectable sleep/clock. Task code asks it for a wrapper per call site; sessions and botocore clients
are cached underneath, wrappers are cheap. Building a wrapper does no network I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from delegate.aws.base import ServiceClient
from delegate.aws.credentials import CredentialProvider
from delegate.aws.lambda_client import LambdaClient
from delegate.aws.retry import RetryListener, RetryPolicy
from delegate.aws.s3_client import S3Client
from delegate.aws.secrets_client import AwsSecretStore, SecretsManagerClient, SsmClient
from delegate.aws.sts_client import StsClient
from shared.payloads import AssumeRoleCredentials, InheritCredentials

AnyCredentials = InheritCredentials | AssumeRoleCredentials
C = TypeVar("C", bound=ServiceClient)


class AwsFactory:
    def __init__(
        self,
        credentials: CredentialProvider,
        *,
        endpoint_url: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.endpoint_url = endpoint_url
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock

    def _make(self, cls: type[C], credentials: AnyCredentials, region: str, on_retry: RetryListener | None) -> C:
        return cls(
            self.credentials.session(credentials),
            region=region,
            endpoint_url=self.endpoint_url,
            sleep=self.sleep,
            clock=self.clock,
            retry=self.retry,
            on_retry=on_retry,
        )

    def lambda_(
        self, credentials: AnyCredentials, region: str, *, on_retry: RetryListener | None = None
    ) -> LambdaClient:
        return self._make(LambdaClient, credentials, region, on_retry)

    def s3(self, credentials: AnyCredentials, region: str, *, on_retry: RetryListener | None = None) -> S3Client:
        return self._make(S3Client, credentials, region, on_retry)

    def sts(self, credentials: AnyCredentials, region: str, *, on_retry: RetryListener | None = None) -> StsClient:
        return self._make(StsClient, credentials, region, on_retry)

    def secrets_manager(
        self, credentials: AnyCredentials, region: str, *, on_retry: RetryListener | None = None
    ) -> SecretsManagerClient:
        return self._make(SecretsManagerClient, credentials, region, on_retry)

    def ssm(self, credentials: AnyCredentials, region: str, *, on_retry: RetryListener | None = None) -> SsmClient:
        return self._make(SsmClient, credentials, region, on_retry)

    def secret_store(
        self, credentials: AnyCredentials, region: str, *, on_retry: RetryListener | None = None
    ) -> AwsSecretStore:
        """Secrets Manager then SSM, as `delegate.secrets.resolver.SecretStore` expects."""
        secrets_manager = self.secrets_manager(credentials, region, on_retry=on_retry)
        return AwsSecretStore(secrets_manager, self.ssm(credentials, region, on_retry=on_retry))
