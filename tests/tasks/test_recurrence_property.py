"""Property: every occurrence of a series falls at its intended local wall time, across
each daylight-saving transition (docs/api.md, Time zones and recurrence). For random
rules and zones, anchored near a transition, each occurrence's instant converted back
to the zone shows the anchor's time of day, except a time the clocks skipped, which
shows exactly the gap later; a time that happens twice is its first instant.

The expected instant is worked out here from the zone's offsets alone (which of the
wall time's candidate instants read back as it), not from ``recurrence.instant``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from doable.tasks import recurrence
from doable.tasks.recurrence import InvalidRule
from tests.support.factories import Account, ApiClient

ZONE_NAMES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Santiago",
    "Asia/Kolkata",
]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def transitions(zone_name: str) -> list[datetime]:
    """The local wall times (naive) just before each change of the zone's UTC offset in
    2026 and 2027 (none for Asia/Kolkata: then mid-year days stand in)."""
    tz = ZoneInfo(zone_name)
    found = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year < 2028:
        later = moment + timedelta(hours=1)
        if later.astimezone(tz).utcoffset() != moment.astimezone(tz).utcoffset():
            found.append(moment.astimezone(tz).replace(tzinfo=None))
        moment = later
    return found or [datetime(2026, 3, 29, 1, 0), datetime(2026, 10, 25, 1, 0)]


TRANSITIONS = {name: transitions(name) for name in ZONE_NAMES}


@st.composite
def rules(draw: st.DrawFn) -> str:
    """A rule of the grammar the API takes: FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT."""
    frequency = draw(st.sampled_from(recurrence.FREQUENCIES))
    parts = [f"FREQ={frequency}"]
    interval = draw(st.integers(min_value=1, max_value=4))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        parts.append("BYDAY=" + ",".join(days))
    if frequency != "WEEKLY" and draw(st.booleans()):
        monthdays = draw(st.lists(st.integers(1, 31), min_size=1, max_size=3, unique=True))
        parts.append("BYMONTHDAY=" + ",".join(str(day) for day in monthdays))
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(min_value=1, max_value=40))}")
    return ";".join(parts)


@st.composite
def anchors(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a local anchor near one of its transitions: the transition's own day
    (its wall time in the gap or the overlap, often) or a few days either side."""
    zone_name = draw(st.sampled_from(ZONE_NAMES))
    near = draw(st.sampled_from(TRANSITIONS[zone_name]))
    day = near.date() + timedelta(days=draw(st.integers(min_value=-8, max_value=1)))
    same_hour = time(near.hour, draw(st.sampled_from([0, 15, 30, 45])))
    any_time = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 1, 30, 59])))
    return zone_name, datetime.combine(day, draw(st.sampled_from([same_hour, any_time])))


def expected_instant(local: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instant the wall time ``local`` should be due at, and the wall time that
    instant shows in ``tz``: of the candidate instants (one per offset the zone has around
    then), those that read back as ``local``; the first if two do (an overlap); if none
    does (a gap), the one of the offset before the change, which reads ``gap`` later."""
    offsets = {local.replace(tzinfo=tz, fold=fold).utcoffset() for fold in (0, 1)}
    candidates = sorted(
        (local - offset).replace(tzinfo=UTC) for offset in offsets if offset is not None
    )
    real = [moment for moment in candidates if _wall(moment, tz) == local]
    if real:
        return real[0], local
    before_change = max(candidates)  # the smaller (earlier) offset: the later candidate
    gap = max(candidates) - min(candidates)
    return before_change, local + gap


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def valid(rule: str, anchor: datetime, tz: ZoneInfo) -> bool:
    try:
        recurrence.parse_rule(rule, anchor, tz)
    except InvalidRule:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(rule=rules(), zoned=anchors())
def test_every_occurrence_falls_at_the_anchors_wall_time(
    rule: str, zoned: tuple[str, datetime]
) -> None:
    zone_name, anchor = zoned
    tz = recurrence.zone(zone_name)
    assume(valid(rule, anchor, tz))

    found = recurrence.upcoming(rule, anchor, tz, anchor, 30)

    assert found
    assert found == sorted(set(found))
    for local in found:
        assert local.time() == anchor.time()
        due, shown = expected_instant(local, tz)
        assert recurrence.instant(local, tz) == due
        assert _wall(recurrence.instant(local, tz), tz) == shown
        assert shown - local in (timedelta(0), timedelta(minutes=30), timedelta(hours=1))


def test_the_expected_instant_knows_the_gap_and_the_overlap() -> None:
    berlin = ZoneInfo("Europe/Berlin")

    assert expected_instant(datetime(2026, 3, 29, 2, 30), berlin) == (
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 30),
    )
    assert expected_instant(datetime(2026, 10, 25, 2, 30), berlin) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30),
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rule=rules(), zoned=anchors())
def test_the_api_lists_each_occurrence_at_its_wall_time(
    api: ApiClient, alice: Account, rule: str, zoned: tuple[str, datetime]
) -> None:
    zone_name, anchor = zoned
    tz = recurrence.zone(zone_name)
    assume(valid(rule, anchor, tz))
    fields: dict[str, Any] = {
        "title": "Series",
        "due_date": anchor.date().isoformat(),
        "due_time": anchor.strftime("%H:%M"),
        "timezone": zone_name,
        "recurrence": {"rule": rule},
    }
    created = api.post("/api/tasks", alice.token, json=fields)
    assert created.status_code == 201, created.get_json()

    response = api.get(f"/api/tasks/{created.get_json()['id']}/occurrences?limit=20", alice.token)

    assert response.status_code == 200
    body = response.get_json()
    assert body["timezone"] == zone_name
    for listed in body["occurrences"]:
        local = datetime.fromisoformat(listed["local"])
        due = datetime.strptime(listed["utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert listed["occurrence"] == local.strftime("%Y-%m-%dT%H:%M")
        assert local.time() == anchor.time()
        assert (due, _wall(due, tz)) == expected_instant(local, tz)
    assert body["occurrences"][0]["local"] == anchor.isoformat()  # the task's own due time
    assert date.fromisoformat(body["occurrences"][-1]["occurrence"][:10]) >= anchor.date()


def test_interval_and_count_are_at_most_1000() -> None:
    anchor, tz = datetime(2026, 3, 30, 9, 0), ZoneInfo("Europe/Berlin")

    assert recurrence.parse_rule("FREQ=DAILY;INTERVAL=1000;COUNT=1000", anchor, tz)
    for rule in ("FREQ=DAILY;INTERVAL=1001", "FREQ=DAILY;COUNT=1001"):
        with pytest.raises(InvalidRule, match="at most 1000"):
            recurrence.parse_rule(rule, anchor, tz)


def test_a_series_ends_at_its_horizon() -> None:
    anchor, tz = datetime(2026, 3, 30, 9, 0), ZoneInfo("Europe/Berlin")
    sparse = "FREQ=DAILY;COUNT=1000;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"  # every ~28 years

    yearly = recurrence.upcoming("FREQ=YEARLY;INTERVAL=2", anchor, tz, anchor, 300)
    mondays = list(recurrence.series(sparse, anchor, tz))

    assert yearly[-1] == datetime(2426, 3, 30, 9, 0)  # 400 years on, and no more
    assert len(yearly) == 201
    assert mondays[:2] == [datetime(2044, 2, 29, 9), datetime(2072, 2, 29, 9)]
    assert mondays[-1] < datetime(2426, 3, 30, 9) < mondays[-1] + timedelta(days=40 * 366)
    assert recurrence.after(sparse, anchor, tz, mondays[-1]) is None


def test_a_rule_first_occurring_past_the_horizon_never_occurs() -> None:
    anchor, tz = datetime(2024, 3, 1, 9, 0), ZoneInfo("UTC")
    rule = "FREQ=YEARLY;INTERVAL=500;BYMONTH=2;BYMONTHDAY=29"  # first on 29 Feb 2524

    with pytest.raises(InvalidRule, match="never occurs"):
        recurrence.parse_rule(rule, anchor, tz)
