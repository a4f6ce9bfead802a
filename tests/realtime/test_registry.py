"""Who holds which sockets, in one process or across processes through Redis. Nothing
here numbers events: their ``seq`` is the user's feed position, in the database."""

from __future__ import annotations

import redis

from doable.realtime.registry import LocalRegistry, RedisRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sockets_a_dead_process_left_stop_counting_against_the_cap(redis_url, redis_prefix):
    """A process killed holding sockets never removes their entries; the live process
    vouches for its own, and the dead one's drop out after ``stale_after``."""
    clock = Clock()
    live = RedisRegistry(redis_url, redis_prefix, stale_after=90, clock=clock)
    dead = RedisRegistry(redis_url, redis_prefix, stale_after=90, clock=clock)
    live.add(9, "kept", "login-a")
    for n in range(3):
        dead.add(9, f"orphan{n}", "login-b")
    assert live.count(9) == 4

    clock.now += 60
    live.touch(9, {"kept": "login-a"})
    clock.now += 60  # the orphans were last seen 120 s ago, "kept" 60 s ago
    assert live.count(9) == 1
    assert live.sockets(9) == {"kept": "login-a"}  # nothing left to drop on a logout


def test_touching_puts_back_the_sockets_redis_lost(redis_url, redis_prefix):
    """Redis restarted empty, or flushed: the process holding the sockets puts them
    back when it next vouches for them, so events reach them again."""
    clock = Clock()
    registry = RedisRegistry(redis_url, redis_prefix, clock=clock)
    registry.add(9, "held", "login")
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.keys(f"{redis_prefix}:rt:*"))
    client.close()
    assert (registry.connected([9]), registry.count(9)) == (set(), 0)

    registry.touch(9, {"held": "login"})

    assert (registry.connected([9]), registry.anyone_connected()) == ({9}, True)
    assert (registry.sockets(9), registry.count(9)) == ({"held": "login"}, 1)


def test_one_process_counts_what_it_holds():
    registry = LocalRegistry()
    registry.add(9, "a", "login")
    registry.add(9, "b", "login")
    registry.remove(9, "a")
    assert registry.count(9) == 1


def _connected_follows_sockets(first, second) -> None:
    """``first`` and ``second``: two processes' registries (the same one in memory)."""
    assert (first.connected([1, 2, 3]), first.anyone_connected()) == (set(), False)
    first.add(1, "a", "login")
    second.add(2, "b", "login")
    second.add(2, "c", "login")
    assert (second.connected([1, 2, 3]), second.anyone_connected()) == ({1, 2}, True)
    first.remove(1, "a")
    second.remove(2, "b")
    assert (first.connected([1, 2, 3]), first.anyone_connected()) == ({2}, True)
    second.remove(2, "c")
    second.remove(2, "c")  # a revoked login's socket is removed twice
    assert (first.connected([1, 2, 3]), first.anyone_connected()) == (set(), False)


def test_one_process_knows_who_holds_a_socket():
    registry = LocalRegistry()
    _connected_follows_sockets(registry, registry)


def test_every_process_knows_who_holds_a_socket_in_any(redis_url, redis_prefix):
    _connected_follows_sockets(
        RedisRegistry(redis_url, redis_prefix), RedisRegistry(redis_url, redis_prefix)
    )


def test_a_dead_process_sockets_stop_counting_as_connected_once_counted(redis_url, redis_prefix):
    clock = Clock()
    dead = RedisRegistry(redis_url, redis_prefix, stale_after=90, clock=clock)
    dead.add(9, "orphan", "login")
    clock.now += 120
    assert dead.count(9) == 0
    assert (dead.connected([9]), dead.anyone_connected()) == (set(), False)
