"""The operator's connection to the control plane: address, API key and TLS from flags or environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import operator_pb2_grpc

DEFAULT_SERVER = "127.0.0.1:7600"


@dataclass(frozen=True)
class Connection:
    server: str
    api_key: str
    insecure: bool
    ca_cert: Path | None
    client_cert: Path | None
    client_key: Path | None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Connection:
        insecure = bool(options.get("insecure")) or os.environ.get("OUTRIDER_INSECURE", "") in {"1", "true", "yes"}
        ca = options.get("ca_cert") or os.environ.get("OUTRIDER_CA_CERT")
        return cls(
            server=options.get("server") or os.environ.get("OUTRIDER_SERVER") or DEFAULT_SERVER,
            api_key=options.get("api_key") or os.environ.get("OUTRIDER_API_KEY", ""),
            insecure=insecure,
            ca_cert=Path(ca) if ca else None,
            client_cert=options.get("client_cert"),
            client_key=options.get("client_key"),
        )

    def channel(self) -> grpc.Channel:
        if self.insecure:
            return grpc.insecure_channel(self.server)
        from shared.tls import channel_credentials

        return grpc.secure_channel(self.server, channel_credentials(self.ca_cert, self.client_cert, self.client_key))

    def stub(self) -> tuple[grpc.Channel, Any]:
        channel = self.channel()
        return channel, operator_pb2_grpc.OperatorServiceStub(channel)  # type: ignore[no-untyped-call]

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.api_key) if self.api_key else ()
