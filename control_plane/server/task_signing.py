"""Signs every task the control plane queues, so a tampered queue row cannot make a delegate act.

The key lives in a file (created 0600 on first start); its public half is written beside it as
`<key>.pub` (base64) for delegates that pin it with --task-signing-key, and is also announced at
Register for delegates that trust the server they connect to over TLS.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from control_plane.store.models import NewTask
from control_plane.store.sql import new_task_id
from shared.signing import TaskSigner, load_or_create_signing_key


class ServerTaskSigner:
    def __init__(self, signer: TaskSigner) -> None:
        self._signer = signer

    @classmethod
    def from_file(cls, path: Path) -> ServerTaskSigner:
        signer = load_or_create_signing_key(path)
        pub = path.with_name(path.name + ".pub")
        if not pub.exists() or pub.read_text().strip() != signer.public_key_b64():
            pub.write_text(signer.public_key_b64() + "\n")
        return cls(signer)

    def public_key_bytes(self) -> bytes:
        return self._signer.public_key_bytes()

    def sign_new_task(self, task: NewTask) -> NewTask:
        task_id = task.id or new_task_id()
        signature = self._signer.sign(
            task_id=task_id,
            type=task.type,
            payload=task.payload,
            execution_id=task.execution_id,
            timeout_ms=task.timeout_ms,
        )
        return dataclasses.replace(task, id=task_id, signature=signature)
