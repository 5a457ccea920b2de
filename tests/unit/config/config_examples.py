# ruff: noqa: E501 - CONTRACT_YAML is the contract text verbatim, comments and all
"""Example configuration for the config unit tests: CONTRACT §3's YAML, verbatim, and helpers.

Imported by the test modules next to it (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from shared.config import ConfigSet, parse_files

SOURCE = "shop.yaml"

# Copied verbatim from CONTRACT.md §3; document numbers: 1 CloudProvider, 2 ArtifactServer,
# 3 Application, 4 Service, 5 Environment, 6 Workflow, 7 Trigger.
CONTRACT_YAML = """\
kind: CloudProvider
name: aws-dev
spec:
  type: aws
  delegateSelectors: [dev]            # tasks using this provider run only on delegates having all these selectors
  credentials:                        # omitted: the delegate's own credentials (boto3 default chain)
    assumeRole: {roleArn: "arn:aws:iam::123456789012:role/deployer", externalId: "deploy-ext-1"}
---
kind: ArtifactServer                  # for jenkins | artifactory | nexus sources
name: artifactory-main
spec:
  type: artifactory
  url: https://artifactory.example.com/artifactory
  username: deploy
  passwordSecret: artifactory-password    # the NAME of a secret resolved on the delegate; values never reach the control plane
---
kind: Application
name: shop
---
kind: Service
application: shop
name: orders
spec:
  deploymentType: AWS_LAMBDA
  artifact:
    source: s3                        # s3 | jenkins | artifactory | nexus | custom
    cloudProvider: aws-dev
    bucket: shop-artifacts
    key: "orders/orders-*.zip"        # glob; each matching key (and each S3 object version of it) is a version
  functions:
    - name: "${app.name}-${service.name}-${env.name}"   # this is the default when omitted
      runtime: python3.12
      handler: app.handler
      memorySize: 128                 # default 128; 128..10240
      timeout: 3                      # default 3; 1..900 seconds
      architecture: x86_64            # x86_64 | arm64
      environment: {LOG_LEVEL: info}  # values may use ${secrets.NAME}, resolved on the delegate
      aliases: ["${env.name}"]        # default ["${env.name}"]
      tags: {team: orders}
---
kind: Environment
application: shop
name: dev
spec:
  type: NON_PROD                      # PROD | NON_PROD
  infrastructure:
    - name: default
      cloudProvider: aws-dev
      region: us-east-1
      executionRole: "arn:aws:iam::123456789012:role/lambda-exec"
      vpc: {subnetIds: [subnet-0a1b], securityGroupIds: [sg-0c2d]}   # optional; both lists non-empty when given
      stagingBucket: shop-lambda-staging                              # optional; for artifacts over 50 MB not already in S3
  overrides:
    - service: orders
      environment: {LOG_LEVEL: debug} # merged over the service's values
      memorySize: 256
---
kind: Workflow
application: shop
name: orders-dev
spec:
  strategy: basic                     # basic (all traffic at once); later: canary
  service: orders
  environment: dev
  infrastructure: default
  variables: {}                       # defaults for ${workflow.variables.X}; --set overrides
  rollbackOnFailure: true
---
kind: Trigger
application: shop
name: orders-on-new-artifact
spec:
  workflow: orders-dev
  on:
    newArtifact: {}                   # deploy each new version the service's artifact source reports
    # or: cron: "0 3 * * *"  (UTC)
"""

CLOUD_PROVIDER, ARTIFACT_SERVER, APPLICATION, SERVICE, ENVIRONMENT, WORKFLOW, TRIGGER = range(7)

_CONTRACT_DICTS = [doc.to_dict() for doc in parse_files([(SOURCE, CONTRACT_YAML)])]


def contract_dicts() -> list[dict[str, Any]]:
    """The contract example as plain dicts (defaults filled in), a fresh copy to mutate."""
    return copy.deepcopy(_CONTRACT_DICTS)


def to_yaml(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


def config_from(documents: list[dict[str, Any]]) -> ConfigSet:
    """Parse dicts as one YAML file named SOURCE and build a ConfigSet (references not checked)."""
    return ConfigSet(parse_files([(SOURCE, to_yaml(documents))]))


def function(documents: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    """The spec of the Service's function at index, for mutation."""
    functions: list[dict[str, Any]] = documents[SERVICE]["spec"]["functions"]
    return functions[index]


def infrastructure(documents: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    infra: list[dict[str, Any]] = documents[ENVIRONMENT]["spec"]["infrastructure"]
    return infra[index]
