from __future__ import annotations

import asyncio

from control_plane.server.dispatcher import Dispatcher


def test_notify_wakes_one_matching_waiter_oldest_first() -> None:
    d = Dispatcher()
    _, gpu = d.register(frozenset({"gpu"}), frozenset({"t"}))
    _, plain1 = d.register(frozenset(), frozenset({"t"}))
    _, plain2 = d.register(frozenset(), frozenset({"t"}))
    assert d.notify(frozenset({"gpu"}), "t")
    assert gpu.event.is_set() and not plain1.event.is_set()
    assert d.notify(frozenset(), "t")  # gpu waiter is already woken; next matching is plain1
    assert plain1.event.is_set() and not plain2.event.is_set()
    assert not d.notify(frozenset(), "other-type")  # nobody waits for that type
    assert not plain2.event.is_set()


def test_unregister_and_nudge() -> None:
    d = Dispatcher()
    k1, w1 = d.register(frozenset(), frozenset({"t"}))
    _, w2 = d.register(frozenset(), frozenset({"t"}))
    d.unregister(k1)
    assert d.waiting == 1
    d.nudge(5)
    assert w2.event.is_set() and not w1.event.is_set()


def test_waiter_event_is_awaitable() -> None:
    async def scenario() -> bool:
        d = Dispatcher()
        _, w = d.register(frozenset(), frozenset({"t"}))
        asyncio.get_running_loop().call_later(0.01, d.notify, frozenset(), "t")
        await asyncio.wait_for(w.event.wait(), 2)
        return w.event.is_set()

    assert asyncio.run(scenario())
