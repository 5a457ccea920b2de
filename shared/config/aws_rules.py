"""AWS naming and limit rules the configuration is checked against before anything reaches AWS.

Each `check_*` returns its argument unchanged or raises `ValueError` with a message fit for the end of an
error line (pydantic turns it into a field error; the renderer calls the same checks after rendering).
The rules mirror the AWS API documentation so a mistake fails at `apply`, not halfway through a deploy.
Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping

LAMBDA_RUNTIMES: tuple[str, ...] = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "java11",
    "java17",
    "java21",
    "dotnet8",
    "ruby3.2",
    "ruby3.3",
    "provided.al2",
    "provided.al2023",
)

MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE = (1, 900)
ENVIRONMENT_LIMIT_BYTES = 4096
MAX_TAGS = 50

OBJECT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ALIAS_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
ENV_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")
ROLE_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
SELECTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SUBNET_ID = re.compile(r"subnet-[0-9a-zA-Z]+")
SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-zA-Z]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# Lambda refuses to let a function configuration set these (they are provided by the runtime).
RESERVED_ENV_KEYS = frozenset(
    {
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)


def _q(value: object) -> str:
    """A value as it appears in a message: JSON-quoted and cut short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def check_range(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}, got {value}")
    return value


def check_object_name(value: str) -> str:
    if not OBJECT_NAME.fullmatch(value):
        raise ValueError(f"must be 1..64 of letters, digits, '-' and '_', got {_q(value)}")
    return value


def check_function_name(value: str) -> str:
    if not FUNCTION_NAME.fullmatch(value):
        raise ValueError(
            f"Lambda function names are 1..64 of letters, digits, '-' and '_', "
            f"got {_q(value)} ({len(value)} characters)"
        )
    return value


def check_alias_name(value: str) -> str:
    # Lambda also rejects all-digit names: they would be read as version numbers.
    if not ALIAS_NAME.fullmatch(value) or value.isdigit():
        raise ValueError(
            f"Lambda alias names are 1..128 of letters, digits, '-' and '_', not all digits, got {_q(value)}"
        )
    return value


def check_runtime(value: str) -> str:
    if value not in LAMBDA_RUNTIMES:
        raise ValueError(f"unsupported Lambda runtime {_q(value)} (supported: {', '.join(LAMBDA_RUNTIMES)})")
    return value


def check_handler(value: str) -> str:
    if not value or len(value) > 128 or any(c.isspace() for c in value):
        raise ValueError(f"must be 1..128 characters without spaces, got {_q(value)}")
    return value


def check_region(value: str) -> str:
    if not REGION.fullmatch(value):
        raise ValueError(f"not an AWS region name like us-east-1, got {_q(value)}")
    return value


def check_role_arn(value: str) -> str:
    if not ROLE_ARN.fullmatch(value):
        raise ValueError(f"must be an IAM role ARN like arn:aws:iam::123456789012:role/name, got {_q(value)}")
    return value


def check_external_id(value: str) -> str:
    if not EXTERNAL_ID.fullmatch(value):
        raise ValueError(f"must be 2..1224 of letters, digits and +=,.@:/-_, got {_q(value)}")
    return value


def check_session_name(value: str) -> str:
    if not SESSION_NAME.fullmatch(value):
        raise ValueError(f"must be 2..64 of letters, digits and +=,.@-_, got {_q(value)}")
    return value


def check_selector(value: str) -> str:
    if not SELECTOR.fullmatch(value):
        raise ValueError(f"must be 1..64 of letters, digits, '.', '-' and '_', got {_q(value)}")
    return value


def check_subnet_id(value: str) -> str:
    if not SUBNET_ID.fullmatch(value):
        raise ValueError(f"not a subnet id like subnet-0a1b2c3d, got {_q(value)}")
    return value


def check_security_group_id(value: str) -> str:
    if not SECURITY_GROUP_ID.fullmatch(value):
        raise ValueError(f"not a security group id like sg-0a1b2c3d, got {_q(value)}")
    return value


def check_bucket_name(value: str) -> str:
    """S3 general purpose bucket naming rules."""
    problem = None
    if not _BUCKET.fullmatch(value):
        problem = "3..63 of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
    elif ".." in value or ".-" in value or "-." in value:
        problem = "no '..', '.-' or '-.'"
    elif _is_ip_address(value):
        problem = "not formatted as an IP address"
    elif value.startswith(_BUCKET_RESERVED_PREFIXES) or value.endswith(_BUCKET_RESERVED_SUFFIXES):
        problem = "no reserved prefix (xn--, sthree-, amzn-s3-demo-) or suffix (-s3alias, --ol-s3, ...)"
    if problem:
        raise ValueError(f"invalid S3 bucket name {_q(value)}: must be {problem}")
    return value


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def check_env_key(key: str) -> str:
    if not ENV_KEY.fullmatch(key):
        raise ValueError(f"invalid environment variable name {_q(key)}: must match [A-Za-z][A-Za-z0-9_]*")
    if key in RESERVED_ENV_KEYS:
        raise ValueError(f"environment variable {key} is reserved by Lambda and cannot be set")
    return key


def environment_size(env: Mapping[str, str]) -> int:
    """Bytes Lambda counts against its 4 KB limit, taken as the compact JSON of the variables: an upper
    bound of the keys-plus-values size, so anything that passes here passes there."""
    return len(json.dumps(dict(env), separators=(",", ":"), ensure_ascii=False).encode())


def check_environment_size(env: Mapping[str, str]) -> Mapping[str, str]:
    size = environment_size(env)
    if size > ENVIRONMENT_LIMIT_BYTES:
        raise ValueError(
            f"environment variables take {size} bytes, over Lambda's 4 KB limit ({ENVIRONMENT_LIMIT_BYTES} bytes)"
        )
    return env


def check_tag_key(key: str) -> str:
    if not 1 <= len(key) <= 128:
        raise ValueError(f"tag keys are 1..128 characters, got {_q(key)}")
    if key.lower().startswith("aws:"):
        raise ValueError(f"tag key {_q(key)} uses the reserved prefix 'aws:'")
    return key


def check_tag_value(value: str) -> str:
    if len(value) > 256:
        raise ValueError(f"tag values are at most 256 characters, got {len(value)}")
    return value


def check_tag_count(tags: Mapping[str, str]) -> Mapping[str, str]:
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags, got {len(tags)}")
    return tags
