"""Exceptions of the Lambda engine: one root, subclassed by what the caller does about them.

`DeployFailed` / `RollbackFailed` carry the full result (functions, masked snapshots, rollback report)
so the task runner can report FAILED, ROLLED_BACK or CANCELLED with everything the operator needs.
No I/O here.
"""

from __future__ import annotations

from shared.payloads import LambdaDeployResult, LambdaRollbackResult


class LambdaEngineError(Exception):
    """Root of Lambda engine failures; `str()` is one readable line."""


class Cancelled(LambdaEngineError):
    """`should_stop()` answered True at a safe point between two actions."""


class CodeMismatch(LambdaEngineError):
    """The code Lambda stored does not hash to the artifact's SHA-256."""


class DeployFailed(LambdaEngineError):
    """A deployment failed; `result.rollback` says whether the automatic rollback restored everything."""

    def __init__(self, message: str, result: LambdaDeployResult) -> None:
        super().__init__(message)
        self.result = result


class DeployCancelled(DeployFailed):
    """The deployment was cancelled at a safe point (and rolled back when rollbackOnFailure)."""


class RollbackFailed(LambdaEngineError):
    """`outrider rollback` could not restore every function; `result` has what was restored."""

    def __init__(self, message: str, result: LambdaRollbackResult) -> None:
        super().__init__(message)
        self.result = result
