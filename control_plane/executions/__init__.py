"""Executions: persisted state machines that turn a workflow into delegate tasks and follow them."""
