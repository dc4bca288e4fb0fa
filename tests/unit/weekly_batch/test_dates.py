"""Target date arithmetic: yesterday in Asia/Tokyo from the scheduler's UTC time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from weekly_batch.dates import parse_scheduled_time, parse_target_date, resolve_target_week
from weekly_batch.errors import InvalidTargetDate

TOKYO = "Asia/Tokyo"


@pytest.mark.parametrize(
    ("scheduled", "expected"),
    [
        ("2026-11-26T00:30:00Z", "2026-11-25"),  # Thursday 09:30 JST -> Wednesday
        ("2026-11-25T14:59:59Z", "2026-11-24"),  # 23:59:59 JST on the 25th
        ("2026-11-25T15:00:00Z", "2026-11-25"),  # midnight JST on the 26th: already "the 26th"
        ("2026-03-01T00:30:00Z", "2026-02-28"),  # month end, not a leap year
        ("2028-03-01T00:30:00Z", "2028-02-29"),  # leap year
        ("2027-01-01T00:30:00Z", "2026-12-31"),  # year end
        ("2026-12-31T15:00:00Z", "2026-12-31"),  # 00:00 JST on Jan 1st -> Dec 31st
        ("2027-01-01T09:30:00+09:00", "2026-12-31"),  # an explicit offset
    ],
)
def test_yesterday_in_tokyo_around_midnight_month_and_year_ends(scheduled, expected):
    week = resolve_target_week({"scheduledTime": scheduled}, zone=TOKYO)
    assert week.target_date.isoformat() == expected
    assert week.week_start == week.target_date - timedelta(days=6)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)))
def test_target_is_always_the_day_before_the_tokyo_day(instant):
    # GIVEN any scheduled instant, as the scheduler renders it (UTC, Z)
    text = instant.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    # WHEN the target week is resolved
    week = resolve_target_week({"scheduledTime": text}, zone=TOKYO)
    # THEN the target is the Tokyo calendar day minus one, and the week is the 7 days ending on it
    tokyo_day = instant.replace(microsecond=0).astimezone(ZoneInfo(TOKYO)).date()
    assert week.target_date == tokyo_day - timedelta(days=1)
    assert (week.week_end - week.week_start).days == 6 and week.week_end == week.target_date


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)))
def test_an_explicit_target_date_round_trips(day):
    week = resolve_target_week({"targetDate": day.isoformat(), "scheduledTime": "2026-11-26T00:30:00Z"}, zone=TOKYO)
    assert week.target_date == day  # targetDate wins over scheduledTime


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-01",
        "2026-02-30",
        "2026-2-3",
        " 2026-11-18",
        "2026-11-18T00:00:00",
        "20261118",
        "",
        20261118,
        None,
        ["2026-11-18"],
    ],
)
def test_malformed_target_dates_are_named_errors(value):
    with pytest.raises(InvalidTargetDate):
        parse_target_date(value)


@pytest.mark.parametrize("value", ["yesterday", "2026-11-26T00:30:00", "", 5])
def test_malformed_or_naive_scheduled_times_are_named_errors(value):
    with pytest.raises(InvalidTargetDate):
        parse_scheduled_time(value)


@pytest.mark.parametrize("event", [{}, [], "2026-11-18", {"rerun": True}])
def test_input_without_a_date_or_time_is_refused(event):
    with pytest.raises(InvalidTargetDate):
        resolve_target_week(event, zone=TOKYO)


@pytest.mark.parametrize(
    "event",
    [
        {"targetDate": "0001-01-03"},  # its week would start before year 1
        {"targetDate": "0001-01-01"},
        {"scheduledTime": "9999-12-31T23:00:00Z"},  # Tokyo is already in year 10000
        {"scheduledTime": "0001-01-01T00:30:00Z"},  # yesterday in Tokyo is before year 1
        {"scheduledTime": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
    ],
)
def test_dates_at_the_calendar_edges_are_named_errors_not_overflows(event):
    # GIVEN a date or time whose week (or Tokyo day) falls outside the calendar Python can hold
    # THEN a named error, which a Catch can match, not OverflowError
    with pytest.raises(InvalidTargetDate, match="outside"):
        resolve_target_week(event, zone=TOKYO)


# The whole calendar, with its first and last weeks drawn as often as the rest (plain st.dates() rarely reaches them).
EVERY_DATE = st.one_of(st.dates(max_value=date(1, 1, 14)), st.dates(min_value=date(9999, 12, 18)), st.dates())
EVERY_INSTANT = st.one_of(
    st.datetimes(max_value=datetime(1, 1, 14)), st.datetimes(min_value=datetime(9999, 12, 18)), st.datetimes()
)
ANY_OFFSET = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-24 * 60 + 1, 24 * 60 - 1))


@given(EVERY_DATE)
def test_every_target_date_resolves_or_is_a_named_error(day):
    # GIVEN any calendar date Python holds, as the input's targetDate
    try:
        week = resolve_target_week({"targetDate": day.isoformat()}, zone=TOKYO)
    except InvalidTargetDate:
        # THEN only a week reaching before year 1 is refused
        assert day < date.min + timedelta(days=6)
        return
    assert week.target_date == day and week.week_start == day - timedelta(days=6)


@given(EVERY_INSTANT, ANY_OFFSET)
def test_every_scheduled_time_resolves_or_is_a_named_error(wall_time, offset):
    # GIVEN any wall time Python holds, with any offset, rendered as ISO-8601
    moment = wall_time.replace(tzinfo=offset)
    text = moment.isoformat()
    try:
        week = resolve_target_week({"scheduledTime": text}, zone=TOKYO)
    except InvalidTargetDate:
        # THEN only an instant whose Tokyo day, its day before, or its week is off the calendar is refused
        try:
            tokyo_day = moment.astimezone(ZoneInfo(TOKYO)).date()
            tokyo_day - timedelta(days=7)
        except OverflowError:
            return
        raise
    assert week.target_date == moment.astimezone(ZoneInfo(TOKYO)).date() - timedelta(days=1)


@pytest.mark.parametrize("value", ["9" * 100_000, "2026-11-18" + " " * 100_000, "x" * 5000 + "Z"])
def test_an_error_never_repeats_a_huge_input(value):
    # GIVEN a huge targetDate / scheduledTime: the error's message is the cause the state machine carries
    for event in ({"targetDate": value}, {"scheduledTime": value}):
        with pytest.raises(InvalidTargetDate) as raised:
            resolve_target_week(event, zone=TOKYO)
        # THEN the message stays short, whatever the input's size
        assert len(str(raised.value)) < 300
