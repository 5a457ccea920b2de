"""The persisted execution document and its JSON view (CONTRACT.md §4).

The document is the orchestrator's whole state; it is stored as JSON in the executions table and
updated with compare-and-set on the row version. `to_public` renders the contract's shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.payloads import (
    AssumeRoleCredentials,
    FunctionResult,
    FunctionSnapshot,
    InheritCredentials,
    ResolvedArtifact,
)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, ROLLED_BACK = (
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "CANCELLED",
    "ROLLED_BACK",
)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, ROLLED_BACK})

STEP_RESOLVE = "Resolve artifact"
STEP_DEPLOY = "Deploy functions"
STEP_ROLLBACK = "Rollback"

StepStatus = Literal["PENDING", "WAITING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Step(_Model):
    name: str
    status: StepStatus = "PENDING"
    task_id: str | None = Field(default=None, alias="taskId")
    error: str | None = None
    started_at: int | None = Field(default=None, alias="startedAt")
    ended_at: int | None = Field(default=None, alias="endedAt")
    detail: str | None = None


class Cause(_Model):
    type: Literal["manual", "trigger", "rollback"] = "manual"
    by: str = ""
    trigger: str | None = None
    detail: str | None = None


class Target(_Model):
    """Where the functions live, kept so `outrider rollback` can reach them without re-rendering."""

    region: str
    credentials: InheritCredentials | AssumeRoleCredentials = Field(discriminator="type")
    selectors: list[str] = Field(default_factory=list)
    function_names: list[str] = Field(default_factory=list, alias="functionNames")


class ExecutionDoc(_Model):
    id: str
    application: str
    workflow: str
    kind: Literal["deploy", "rollback"] = "deploy"
    status: str = QUEUED
    cause: Cause = Field(default_factory=Cause)
    variables: dict[str, str] = Field(default_factory=dict)
    requested_version: str | None = Field(default=None, alias="requestedVersion")
    artifact: ResolvedArtifact | None = None
    functions: list[FunctionResult] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    rollback: dict[str, Any] | None = None
    snapshots: list[FunctionSnapshot] = Field(default_factory=list)
    target: Target | None = None
    target_execution_id: str | None = Field(default=None, alias="targetExecutionId")
    changed: bool | None = None
    error: str | None = None
    error_kind: str | None = Field(default=None, alias="errorKind")
    cancel_requested: bool = Field(default=False, alias="cancelRequested")
    created_at: int = Field(default=0, alias="createdAt")
    updated_at: int = Field(default=0, alias="updatedAt")

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_public(self) -> dict[str, Any]:
        """The document `executions get -o json` prints: the contract's keys first, then extras."""
        return {
            "id": self.id,
            "application": self.application,
            "workflow": self.workflow,
            "status": self.status,
            "artifact": ({"version": self.artifact.version, "sha256": self.artifact.sha256} if self.artifact else None),
            "functions": [
                {
                    "name": f.name,
                    "version": f.version,
                    "codeSha256": f.code_sha256,
                    "changed": f.changed,
                    "aliases": dict(f.aliases),
                }
                for f in self.functions
            ],
            "steps": [
                {k: v for k, v in s.model_dump(by_alias=True).items() if v is not None or k in ("name", "status")}
                for s in self.steps
            ],
            "rollback": self.rollback,
            "kind": self.kind,
            "cause": self.cause.model_dump(exclude_none=True),
            "targetExecutionId": self.target_execution_id,
            "changed": self.changed,
            "error": self.error,
            "errorKind": self.error_kind,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
