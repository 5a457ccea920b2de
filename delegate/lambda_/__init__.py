"""AWS Lambda deployments on the delegate: snapshot -> plan -> apply -> (rollback).

Public entry points: `deploy` (task `lambda.deploy`) and `rollback` (task `lambda.rollback`).
Modules: `snapshot` (read state), `desired` (spec + rendered secrets), `planner` (pure diff into
actions), `actions` (the frozen steps), `executor` (performs them), `rollback` (restore plans),
`deployer` (the whole run). Only `executor` changes AWS; reading happens in `snapshot`/`rollback`.
"""

from delegate.lambda_.deployer import deploy
from delegate.lambda_.errors import Cancelled, DeployCancelled, DeployFailed, LambdaEngineError, RollbackFailed
from delegate.lambda_.planner import Plan, plan_deploy
from delegate.lambda_.rollback import plan_restore, rollback
from delegate.lambda_.snapshot import MASK, execution_marker

__all__ = [
    "MASK",
    "Cancelled",
    "DeployCancelled",
    "DeployFailed",
    "LambdaEngineError",
    "Plan",
    "RollbackFailed",
    "deploy",
    "execution_marker",
    "plan_deploy",
    "plan_restore",
    "rollback",
]
