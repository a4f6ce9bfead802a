"""Event ids only ever increase, so a jump always means "you missed events"."""

from __future__ import annotations

import time

import pytest
import redis

from doable.realtime.registry import LocalRegistry, RedisRegistry
from tests.support.servers import free_port


def test_local_ids_count_up_per_user_from_the_current_time():
    registry = LocalRegistry()
    before = time.time_ns() // 1000
    first, second, other = registry.next_event_ids([1, 1, 2])
    assert first >= before
    assert second == first + 1
    assert other >= before


def test_a_restarted_process_continues_above_the_ids_it_gave_out():
    old = LocalRegistry()
    last = old.next_event_ids([1] * 50)[-1]
    time.sleep(0.01)
    assert LocalRegistry().next_event_ids([1])[0] > last


def test_a_user_whose_events_were_not_sent_sees_a_gap_in_the_next_id():
    registry = LocalRegistry()
    (sent,) = registry.next_event_ids([1])
    registry.missed([1])
    assert registry.next_event_ids([1]) == [sent + 2]


@pytest.fixture
def registry(redis_url: str, redis_prefix: str) -> RedisRegistry:
    return RedisRegistry(redis_url, redis_prefix)


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_user_who_closed_their_last_socket_sees_a_gap_in_the_next_id(
    kind: str, redis_url: str, redis_prefix: str
) -> None:
    """Events go to open sockets only: what happened while a user had none reached
    nobody, so their next id after connecting again jumps. A socket closing while
    another stays open leaves no gap (that one got every event)."""
    registry = LocalRegistry() if kind == "local" else RedisRegistry(redis_url, redis_prefix)
    registry.add(1, "tab-a", "login")
    registry.add(1, "tab-b", "login")
    (first,) = registry.next_event_ids([1])
    registry.remove(1, "tab-a")
    (second,) = registry.next_event_ids([1])
    assert second == first + 1
    registry.remove(1, "tab-b")
    registry.add(1, "tab-a", "login")
    assert registry.next_event_ids([1]) == [second + 2]


def test_redis_ids_are_shared_by_every_registry_on_it(registry, redis_url, redis_prefix):
    other_process = RedisRegistry(redis_url, redis_prefix)
    (first,) = registry.next_event_ids([7])
    assert other_process.next_event_ids([7, 7]) == [first + 1, first + 2]


def test_redis_losing_its_counters_never_sends_ids_back(registry, redis_url, redis_prefix):
    last = registry.next_event_ids([7] * 50)[-1]
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.keys(f"{redis_prefix}:rt:events:*"))  # a restart, no persistence
    client.close()
    time.sleep(0.01)
    assert registry.next_event_ids([7])[0] > last


def test_events_lost_while_redis_was_away_leave_a_gap(registry, redis_url, redis_prefix):
    (before,) = registry.next_event_ids([7])
    away = RedisRegistry(f"redis://127.0.0.1:{free_port()}/0", redis_prefix)
    with pytest.raises(redis.RedisError):
        away.next_event_ids([7])
    away._redis = registry._redis  # Redis is back, for the process that failed
    assert away.next_event_ids([7]) == [before + 2]


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
    live.touch(9, ["kept"])
    clock.now += 60  # the orphans were last seen 120 s ago, "kept" 60 s ago
    assert live.count(9) == 1
    assert live.sockets(9) == {"kept": "login-a"}  # nothing left to drop on a logout


def test_touching_never_brings_back_a_removed_socket(redis_url, redis_prefix):
    clock = Clock()
    registry = RedisRegistry(redis_url, redis_prefix, clock=clock)
    registry.add(9, "gone", "login")
    registry.remove(9, "gone")
    registry.touch(9, ["gone"])  # a vouch racing the disconnect
    assert registry.count(9) == 0
    assert registry.sockets(9) == {}


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
