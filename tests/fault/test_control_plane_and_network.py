"""The control plane dies or the network between it and the delegate goes away; nothing is lost.

Each scenario ends with the history check: every task ended once, every numbered log line stored
exactly once and in order, no duplicate versions, the expected Lambda state.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc

from control_plane.store import open_store
from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, delegate_pb2_grpc
from tests.harness import Operator, ServerProcess, admin_init, wait_until
from tests.support.aws_fault_proxy import AwsFaultProxy, Rule
from tests.support.history import History, check_tasks, check_versions, lambda_state, record
from tests.support.lambda_stack import LambdaStack, app_zip, moto_server, shop_config
from tests.support.partition import partitionable


def _state(op: Operator, task_id: str) -> str:
    return str(common_pb2.TaskState.Name(op.task(task_id).state)).removeprefix("TASK_STATE_")


def _history(db_url: str) -> History:
    store = open_store(db_url)
    try:
        return check_tasks(store)
    finally:
        store.close()


def test_control_plane_sigkill_mid_deploy_and_restart(db_url: str, tmp_path: Path) -> None:
    server, moto_url = moto_server()
    proxy = AwsFaultProxy(moto_url).start()
    # A lease longer than the restart takes: the delegate keeps its task through the outage.
    flags = ["--lease-seconds", "20", "--heartbeat-seconds", "1", "--poll-timeout-seconds", "5"]
    stack = LambdaStack(tmp_path, db_url, moto_url, proxy.url, server_flags=flags).start()
    try:
        assert stack.apply_yaml(shop_config()).returncode == 0
        s3 = stack.client("s3")
        s3.create_bucket(Bucket="shop-artifacts")
        s3.put_object(Bucket="shop-artifacts", Key="orders/orders-1.zip", Body=app_zip("v1"))
        # Hold the publish answer for a while: the control plane dies while the delegate is mid-deploy.
        rule = Rule(path=r"POST /2015-03-31/functions/shop-orders-dev/versions", delay_after=3, count=1)
        proxy.rules.append(rule)
        proc = stack.cli("deploy", "orders-dev", "--app", "shop", "--no-wait", "-o", "json")
        execution_id = json.loads(proc.stdout)["id"]
        wait_until(lambda: rule.hits == 1, 30, message="the delegate to publish")
        assert stack.server is not None
        stack.server.kill()
        time.sleep(1)  # the control plane stays down while the delegate finishes its AWS work
        stack.server.start()  # same port: the delegate reconnects by itself
        wait_until(
            lambda: (
                json.loads(stack.cli("executions", "get", execution_id, "-o", "json").stdout)["status"]
                in {"SUCCEEDED", "FAILED", "ROLLED_BACK"}
            ),
            60,
            message="the execution to end after the restart",
        )
        doc = json.loads(stack.cli("executions", "get", execution_id, "-o", "json").stdout)
        assert doc["status"] == "SUCCEEDED", doc
        lam = stack.client("lambda")
        history = check_versions(lam, ["shop-orders-dev"], _history(db_url))
        history.check()
        store = open_store(db_url)
        try:
            deploy_task = next(t for t in store.list_tasks(100, execution_id) if t.type == "lambda.deploy")
        finally:
            store.close()
        assert deploy_task.attempt == 1  # the lease survived the restart: no second attempt was needed
        assert lambda_state(lam, "shop-orders-dev")["aliases"]["dev"]["codeSha256"] == doc["functions"][0]["codeSha256"]
        record(f"[fault] kill-control-plane: faults=1 {history.summary()}")
    finally:
        stack.stop()
        proxy.stop()
        server.stop()


def test_network_cut_30s_during_log_streaming(db_url: str, tmp_path: Path) -> None:
    with partitionable(db_url, tmp_path, "--lease-seconds", "60", "--heartbeat-seconds", "2") as net:
        op, proxy = net.operator, net.proxy
        net.delegate("d1")
        tid = op.submit("diagnostic.sleep", {"seconds": 8, "lines": 400})
        wait_until(lambda: _stored_lines(db_url, tid) > 0, 20, message="the first batches to arrive")
        proxy.cut()
        time.sleep(30)
        proxy.restore()
        wait_until(lambda: _state(op, tid) == "SUCCEEDED", 60, message="delivery after the partition")
        history = _history(db_url)
        history.check()
        assert history.log_lines == 400 and history.lost == 0 and history.duplicated == 0
        assert proxy.refused > 0  # the delegate kept trying during the cut
        record(f"[fault] network-cut-30s: faults={proxy.cuts} refused={proxy.refused} {history.summary()}")


def _stored_lines(db_url: str, task_id: str) -> int:
    store = open_store(db_url)
    try:
        return sum(len(json.loads(b.lines)) for b in store.read_logs(task_id))
    finally:
        store.close()


def test_delegate_restart_delivers_its_spool(db_url: str, tmp_path: Path) -> None:
    with partitionable(db_url, tmp_path, "--lease-seconds", "60", "--heartbeat-seconds", "2") as net:
        op, proxy = net.operator, net.proxy
        d = net.delegate("d1")
        tid = op.submit("diagnostic.sleep", {"seconds": 3, "lines": 120})
        wait_until(lambda: op.task(tid).state == common_pb2.TASK_STATE_LEASED, 20, message="lease")
        proxy.cut()  # the task finishes while the control plane is unreachable: all in the spool
        wait_until(
            lambda: "task reported" not in d.log_text() and any(d.spool_dir.glob("*/result.json")),
            30,
            message="the result to be spooled",
        )
        d.kill()  # and the delegate dies before it could deliver anything
        proxy.restore()
        d = net.delegate("d1")  # same name, same spool
        wait_until(lambda: _state(op, tid) == "SUCCEEDED", 60, message="the restarted delegate to deliver")
        history = _history(db_url)
        history.check()
        assert history.log_lines == 120 and op.task(tid).attempt == 1
        wait_until(lambda: not any(d.spool_dir.iterdir()), 20, message="the spool to be pruned")
        record(f"[fault] delegate-restart-with-spool: faults=2 {history.summary()}")


def test_duplicate_and_reordered_batches_are_stored_once_in_order(db_url: str, tmp_path: Path) -> None:
    api_key = admin_init(db_url)
    srv = ServerProcess(db_url, tmp_path).start()
    op = Operator(srv.address, api_key)
    channel = grpc.insecure_channel(srv.address)
    try:
        token = op.create_token("t")
        stub = delegate_pb2_grpc.DelegateServiceStub(channel)  # type: ignore[no-untyped-call]
        md = bearer(token)
        reg = stub.Register(
            delegate_pb2.RegisterRequest(name="raw", task_types=["diagnostic.noop"], max_tasks=1), metadata=md
        )
        tid = op.submit()
        task = stub.PollTask(
            delegate_pb2.PollTaskRequest(session_id=reg.session_id, free_slots=1, wait_ms=5000), metadata=md
        ).task
        lease = common_pb2.LeaseRef(task_id=tid, attempt=task.attempt, lease_token=task.lease_token)

        def batch(seq: int) -> common_pb2.LogBatch:
            return common_pb2.LogBatch(seq=seq, lines=[common_pb2.LogLine(text=f"line {seq} of 6")])

        acks = []
        for seqs in ([1, 3], [3, 2, 2], [6, 5], [1, 4, 5, 6]):
            resp = stub.AppendLogs(
                delegate_pb2.AppendLogsRequest(
                    session_id=reg.session_id, lease=lease, batches=[batch(s) for s in seqs]
                ),
                metadata=md,
            )
            acks.append(resp.acked_seq)
        assert acks == [1, 3, 3, 6]
        stub.CompleteTask(
            delegate_pb2.CompleteTaskRequest(
                session_id=reg.session_id, lease=lease, state=common_pb2.TASK_STATE_SUCCEEDED, last_log_seq=6
            ),
            metadata=md,
        )
        history = _history(db_url)
        history.check()
        assert history.log_lines == 6
        record(f"[fault] duplicate-reorder-batches: faults=6 {history.summary()}")
    finally:
        channel.close()
        op.close()
        srv.stop()


def test_aws_faults_by_rate_deploy_still_ends_correct(tmp_path: Path) -> None:
    server, moto_url = moto_server()
    rules = [
        Rule(path=r"/2015-03-31/functions", status=429, code="TooManyRequestsException", rate=0.15),
        Rule(
            path=r"/2015-03-31/functions/.+/(code|configuration|versions|aliases)",
            status=409,
            code="ResourceConflictException",
            message="The operation cannot be performed at this time. An update is in progress for resource",
            rate=0.15,
        ),
        Rule(path=r"/2015-03-31/functions", status=500, code="ServiceException", rate=0.05),
        Rule(path=r"/2015-03-31/functions", status=503, code="ServiceUnavailableException", rate=0.05),
        Rule(path=r"/2015-03-31/functions", reset=True, rate=0.05),
        Rule(path=r"/2015-03-31/functions", delay=0.3, rate=0.1),
    ]
    proxy = AwsFaultProxy(moto_url, rules=rules, seed=11).start()
    stack = LambdaStack(tmp_path, f"sqlite:///{tmp_path / 'cp.db'}", moto_url, proxy.url).start()
    try:
        assert stack.apply_yaml(shop_config()).returncode == 0
        s3 = stack.client("s3")
        s3.create_bucket(Bucket="shop-artifacts")
        for i in (1, 2, 3):
            s3.put_object(Bucket="shop-artifacts", Key=f"orders/orders-{i}.zip", Body=app_zip(f"v{i}"))
            code, doc, err = stack.deploy("orders-dev", "shop")
            assert code == 0, (err, doc)
            assert doc["functions"][0]["version"] == str(i)
        lam = stack.client("lambda")
        history = check_versions(lam, ["shop-orders-dev"], History())
        history.check()
        assert proxy.faults >= 5, proxy.faults
        assert lam.get_alias(FunctionName="shop-orders-dev", Name="dev")["FunctionVersion"] == "3"
        record(f"[fault] aws-faults-by-rate: faults={proxy.faults} forwarded={proxy.forwarded} {history.summary()}")
    finally:
        stack.stop()
        proxy.stop()
        server.stop()
