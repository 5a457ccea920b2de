"""A control plane whose delegates can be cut off: the server, a TcpProxy in front of it, an operator
client and a delegate token, with everything stopped on exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import DelegateProcess, Operator, ServerProcess, admin_init
from tests.support.tcp_proxy import TcpProxy


@dataclass
class Partitionable:
    server: ServerProcess
    proxy: TcpProxy
    operator: Operator
    token: str
    workdir: Path
    delegates: list[DelegateProcess] = field(default_factory=list)

    def delegate(self, name: str, *, through_proxy: bool = True) -> DelegateProcess:
        address = self.proxy.address if through_proxy else self.server.address
        d = DelegateProcess(address, self.token, name, self.workdir).start()
        self.delegates.append(d)
        return d


@contextmanager
def partitionable(db_url: str, workdir: Path, *server_flags: str) -> Iterator[Partitionable]:
    api_key = admin_init(db_url)
    server = ServerProcess(db_url, workdir, extra=list(server_flags)).start()
    proxy = TcpProxy("127.0.0.1", server.port).start()
    operator = Operator(server.address, api_key)
    setup = Partitionable(server, proxy, operator, operator.create_token("t"), workdir)
    try:
        yield setup
    finally:
        for d in setup.delegates:
            d.kill()
        operator.close()
        proxy.stop()
        server.stop()
