"""Every AWS operation the delegate may call, and the IAM actions each one needs.

`OPERATIONS` is the source of truth: the wrappers refuse (with AssertionError, a programming error)
to call anything not listed here, so the set cannot drift from the code. The IAM policies in
`deploy/iam/` are checked against `required_iam_actions()` by a test.

Names are `service:ApiOperation` as boto3 calls them (`s3:ListObjectsV2`), which for S3 differ from
IAM action names (`s3:ListBucket`); `IAM_ACTIONS` maps one to the other. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping

IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {
    # Lambda: snapshot, deploy, rollback.
    "lambda:GetFunction": ("lambda:GetFunction",),
    "lambda:GetFunctionConfiguration": ("lambda:GetFunctionConfiguration",),
    # CreateFunction / UpdateFunctionConfiguration hand the execution role to Lambda: iam:PassRole.
    "lambda:CreateFunction": ("lambda:CreateFunction", "lambda:TagResource", "iam:PassRole"),
    "lambda:UpdateFunctionCode": ("lambda:UpdateFunctionCode",),
    "lambda:UpdateFunctionConfiguration": ("lambda:UpdateFunctionConfiguration", "iam:PassRole"),
    "lambda:PublishVersion": ("lambda:PublishVersion",),
    "lambda:ListVersionsByFunction": ("lambda:ListVersionsByFunction",),
    "lambda:ListAliases": ("lambda:ListAliases",),
    "lambda:CreateAlias": ("lambda:CreateAlias",),
    "lambda:UpdateAlias": ("lambda:UpdateAlias",),
    "lambda:DeleteAlias": ("lambda:DeleteAlias",),
    "lambda:TagResource": ("lambda:TagResource",),
    "lambda:UntagResource": ("lambda:UntagResource",),
    "lambda:DeleteFunction": ("lambda:DeleteFunction",),
    # S3: artifact source (list, resolve, download) and staging uploads over 50 MB.
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "s3:ListObjectVersions": ("s3:ListBucketVersions",),
    "s3:HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "s3:GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "s3:GetBucketLocation": ("s3:GetBucketLocation",),
    "s3:CreateMultipartUpload": ("s3:PutObject",),
    "s3:UploadPart": ("s3:PutObject",),
    "s3:CompleteMultipartUpload": ("s3:PutObject",),
    "s3:AbortMultipartUpload": ("s3:AbortMultipartUpload",),
    # STS: assume the CloudProvider's role; identity for diagnostics.
    "sts:AssumeRole": ("sts:AssumeRole",),
    "sts:GetCallerIdentity": (),  # always allowed, no IAM action needed
    # Secrets: `${secrets.NAME}` resolution (SecureString with a CMK also needs kms:Decrypt on it).
    "secretsmanager:GetSecretValue": ("secretsmanager:GetSecretValue",),
    "ssm:GetParameter": ("ssm:GetParameter",),
}

OPERATIONS: frozenset[str] = frozenset(IAM_ACTIONS)
"""Every `service:Operation` a wrapper in `delegate.aws` calls."""


def required_iam_actions() -> frozenset[str]:
    """The IAM actions a least-privilege delegate policy must allow (plus kms:Decrypt for SSM CMKs)."""
    return frozenset(action for actions in IAM_ACTIONS.values() for action in actions)


def check(operation: str) -> None:
    """Fail loudly in tests when code calls an operation missing from `OPERATIONS`."""
    if operation not in OPERATIONS:
        raise AssertionError(f"{operation} is not declared in delegate.aws.operations.OPERATIONS")
