"""Benchmarks: `make bench` (`python -m bench`) measures everything in one run and prints one table.

Every figure is a ratio to a baseline measured in the same run on the same machine, so a slow or busy
machine moves both sides together:

- raw_grpc: a trivial grpc.aio server (health Check) in a child process; its unary round trip and
  RPCs/s are the baseline for everything else.
- dispatch: an in-bench delegate registers and long-polls over real gRPC; the time from SubmitTask
  returning to PollTask returning that task, sequentially.
- throughput: real `outrider-delegate run` processes drain no-op tasks, on SQLite and PostgreSQL;
  an RPC-counting control plane measures how many gRPC calls one task costs.
- idle_sessions: thousands of registered delegates long-polling one control plane; its RSS.

All I/O is on loopback: child processes (`outrider server`, `outrider-delegate run`), gRPC to them,
and reads of the database the control plane writes. Loops are bounded by counts and deadlines.
"""
