"""Cron expressions and the AWS naming rules, checked directly."""

from __future__ import annotations

import pytest

from shared.config import aws_rules
from shared.config.cron import CronSchedule, parse_cron


@pytest.mark.parametrize(
    ("expression", "day_of_week"),
    [
        ("0 3 * * *", "*"),
        ("*/15 0-6,22-23 1,15 JAN-MAR *", "*"),
        ("0 9 * * MON-FRI", "mon,tue,wed,thu,fri"),
        ("0 9 * * 0-2", "sun,mon,tue"),
        ("0 9 * * 7", "sun"),
        ("0 9 * * 5-7", "sun,fri,sat"),
        ("0 0 * * */2", "sun,tue,thu,sat"),
    ],
)
def test_valid_cron(expression: str, day_of_week: str) -> None:
    schedule = parse_cron(expression)
    assert schedule.day_of_week == day_of_week
    assert schedule.minute == expression.split()[0]


def test_cron_fields_are_split() -> None:
    assert parse_cron(" 5  4 * 12 * ") == CronSchedule("5", "4", "*", "12", "*")


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 3 * *", "must have 5 fields"),
        ("@daily", "must have 5 fields"),
        ("60 * * * *", "minute value 60 is out of range 0-59"),
        ("0 0 0 * *", "day of month value 0 is out of range 1-31"),
        ("0 0 * 13 *", "month value 13 is out of range 1-12"),
        ("0 0 * * 8", "day of week value 8 is out of range 0-7"),
        ("0 0 * FOO *", "month value 'FOO' is not a number or a valid name"),
        ("0 0 * * L", "day of week value 'L' is not a number or a valid name"),
        ("0 0 ? * *", "cannot read '?'"),
        ("10-5 * * * *", "range 10-5 is backwards"),
        ("*/0 * * * *", "step 0 is out of range"),
        ("5/10 * * * *", "a step needs * or a range"),
        ("1,,2 * * * *", "cannot read ''"),
    ],
)
def test_invalid_cron(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match="cron") as info:
        parse_cron(expression)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-north-1", "il-central-1"]
)
def test_regions_accepted(region: str) -> None:
    assert aws_rules.check_region(region) == region


@pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us-east-1a", ""])
def test_regions_rejected(region: str) -> None:
    with pytest.raises(ValueError, match="not an AWS region"):
        aws_rules.check_region(region)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/deployer",
        "arn:aws:iam::123456789012:role/service-role/lambda+exec@x",
        "arn:aws-cn:iam::123456789012:role/r",
    ],
)
def test_role_arns_accepted(arn: str) -> None:
    assert aws_rules.check_role_arn(arn) == arn


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345678901:role/r",
        "arn:aws:iam::123456789012:user/r",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:sts::123456789012:role/r",
        "arn:aws:iam::123456789012:role/" + "r" * 65,
    ],
)
def test_role_arns_rejected(arn: str) -> None:
    with pytest.raises(ValueError, match="IAM role ARN"):
        aws_rules.check_role_arn(arn)


@pytest.mark.parametrize("bucket", ["abc", "shop-lambda-staging", "a.b.c", "1bucket2"])
def test_bucket_names_accepted(bucket: str) -> None:
    assert aws_rules.check_bucket_name(bucket) == bucket


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "Shop",
        "shop_bucket",
        "-shop",
        "shop-",
        "a..b",
        "a.-b",
        "192.168.1.1",
        "xn--shop",
        "shop-s3alias",
        "b" * 64,
    ],
)
def test_bucket_names_rejected(bucket: str) -> None:
    with pytest.raises(ValueError, match="invalid S3 bucket name"):
        aws_rules.check_bucket_name(bucket)


def test_function_and_alias_names() -> None:
    assert aws_rules.check_function_name("f" * 64) == "f" * 64
    with pytest.raises(ValueError, match=r"\(65 characters\)"):
        aws_rules.check_function_name("f" * 65)
    with pytest.raises(ValueError, match="Lambda function names"):
        aws_rules.check_function_name("shop.orders")
    assert aws_rules.check_alias_name("v2") == "v2"
    with pytest.raises(ValueError, match="not all digits"):
        aws_rules.check_alias_name("2")


def test_tag_rules() -> None:
    with pytest.raises(ValueError, match="reserved prefix"):
        aws_rules.check_tag_key("AWS:cloudformation")
    with pytest.raises(ValueError, match="at most 256"):
        aws_rules.check_tag_value("v" * 257)
    with pytest.raises(ValueError, match="at most 50 tags"):
        aws_rules.check_tag_count({str(n): "" for n in range(51)})


def test_environment_size_counts_utf8_bytes() -> None:
    assert aws_rules.environment_size({"A": "é"}) == len('{"A":"é"}'.encode())
    aws_rules.check_environment_size({"A": "x" * 4088})  # {"A":"..."} is exactly 4096 bytes
    with pytest.raises(ValueError, match="4097 bytes"):
        aws_rules.check_environment_size({"A": "x" * 4089})
