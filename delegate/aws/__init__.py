"""AWS access for the delegate: the only package in Outrider that imports boto3/botocore.

One typed wrapper per service (`LambdaClient`, `S3Client`, `StsClient`, `SecretsManagerClient`,
`SsmClient`), built by `AwsFactory` from a `CredentialProvider`; one exception root (`AwsError`);
one retry policy (`retry.classify`); one list of operations (`OPERATIONS`) for IAM policy checks.
"""

from delegate.aws.credentials import CredentialProvider, StaticKeys
from delegate.aws.errors import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsPreconditionFailed,
    AwsTimeout,
    AwsUnavailable,
    AwsUpdateFailed,
)
from delegate.aws.factory import AwsFactory
from delegate.aws.lambda_client import LambdaClient
from delegate.aws.lambda_types import (
    NO_VPC,
    AliasInfo,
    CodeLocation,
    ConfigurationUpdate,
    FunctionConfig,
    FunctionInfo,
    FunctionSettings,
    VpcSettings,
)
from delegate.aws.operations import IAM_ACTIONS, OPERATIONS, required_iam_actions
from delegate.aws.retry import Decision, RetryPolicy, classify
from delegate.aws.s3_client import S3Client, S3ObjectHead, S3ObjectVersion
from delegate.aws.secrets_client import AwsSecretStore, SecretsManagerClient, SsmClient
from delegate.aws.session import AwsSession
from delegate.aws.sts_client import CallerIdentity, StsClient, TemporaryCredentials

__all__ = [
    "IAM_ACTIONS",
    "NO_VPC",
    "OPERATIONS",
    "AliasInfo",
    "AwsAccessDenied",
    "AwsConflict",
    "AwsError",
    "AwsFactory",
    "AwsInvalidRequest",
    "AwsNotFound",
    "AwsPreconditionFailed",
    "AwsSecretStore",
    "AwsSession",
    "AwsTimeout",
    "AwsUnavailable",
    "AwsUpdateFailed",
    "CallerIdentity",
    "CodeLocation",
    "ConfigurationUpdate",
    "CredentialProvider",
    "Decision",
    "FunctionConfig",
    "FunctionInfo",
    "FunctionSettings",
    "LambdaClient",
    "RetryPolicy",
    "S3Client",
    "S3ObjectHead",
    "S3ObjectVersion",
    "SecretsManagerClient",
    "SsmClient",
    "StaticKeys",
    "StsClient",
    "TemporaryCredentials",
    "VpcSettings",
    "classify",
    "required_iam_actions",
]
