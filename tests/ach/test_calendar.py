"""Federal Reserve holidays: banking days, effective (settlement) dates and cut-offs.

The expected dates are the Federal Reserve's published holiday schedules, including its
rule that a holiday on a Saturday is not observed (the Reserve Banks open the Friday
before) while one on a Sunday is observed the Monday after.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from smartpay.ach.odfi import federal_reserve_holidays, is_business_day, next_business, odfis
from smartpay.config import Settings

NEW_YORK = ZoneInfo("America/New_York")
D = datetime.date


def at(day: datetime.date, hour: int, minute: int = 0) -> int:
    return int(
        datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).timestamp()
    )


def test_the_2026_schedule() -> None:
    assert federal_reserve_holidays(2026) == {
        D(2026, 1, 1),  # New Year's Day
        D(2026, 1, 19),  # Martin Luther King, Jr.
        D(2026, 2, 16),  # Washington's Birthday
        D(2026, 5, 25),  # Memorial Day
        D(2026, 6, 19),  # Juneteenth
        # Independence Day falls on Saturday 4 July: not observed, Friday 3 July is open.
        D(2026, 9, 7),  # Labor Day
        D(2026, 10, 12),  # Columbus Day
        D(2026, 11, 11),  # Veterans Day
        D(2026, 11, 26),  # Thanksgiving Day
        D(2026, 12, 25),  # Christmas Day
    }
    assert is_business_day(D(2026, 7, 3))


def test_sunday_holidays_move_to_monday_and_saturday_ones_are_not_observed() -> None:
    closed = {D(2022, 6, 20), D(2022, 12, 26), D(2023, 1, 2), D(2027, 7, 5)}
    open_days = {
        D(2021, 12, 31),  # New Year's Day 2022 was a Saturday
        D(2023, 11, 10),  # Veterans Day 2023 was a Saturday
        D(2027, 6, 18),  # Juneteenth 2027 is a Saturday
        D(2027, 12, 24),  # Christmas 2027 is a Saturday
        D(2021, 6, 18),  # FedACH operated: the Fed first closed for Juneteenth in 2022
    }
    for day in closed:
        assert not is_business_day(day), day
    for day in open_days:
        assert is_business_day(day), day
    assert D(2022, 6, 19) not in federal_reserve_holidays(2022)  # the Sunday itself
    assert len(federal_reserve_holidays(2021)) == 9  # no Juneteenth; Christmas 2021 a Saturday
    assert next_business(D(2026, 12, 24)) == D(2026, 12, 28)  # over Christmas and a weekend


def test_effective_dates_skip_holidays() -> None:
    odfi = odfis(Settings())["sandbox"]
    wednesday = D(2026, 11, 25)  # the day before Thanksgiving
    assert odfi.effective_date("standard", 100, at(wednesday, 9)) == D(2026, 11, 27)
    assert odfi.effective_date("same_day", 100, at(wednesday, 9)) == wednesday
    # Past the standard cut-off: Thursday is closed, so Friday is the base, Monday settles.
    assert odfi.effective_date("standard", 100, at(wednesday, 19)) == D(2026, 11, 30)
    # On the holiday itself nothing settles the same day.
    assert odfi.effective_date("same_day", 100, at(D(2026, 11, 26), 9)) == D(2026, 11, 30)
    # Monday 7 September 2026 is Labor Day: a Friday-evening standard entry settles Wednesday.
    assert odfi.effective_date("standard", 100, at(D(2026, 9, 4), 19)) == D(2026, 9, 9)


def test_cutoffs_fall_on_banking_days_only() -> None:
    odfi = odfis(Settings())["sandbox"]
    # From Wednesday 25 Nov 2026 19:00 to Monday 30 Nov 11:00: Thursday is Thanksgiving,
    # then a weekend, so Friday's four cut-offs and Monday's 10:30 are all there are.
    cutoffs = odfi.cutoffs_between(at(D(2026, 11, 25), 19), at(D(2026, 11, 30), 11))
    local = [datetime.datetime.fromtimestamp(c, NEW_YORK).strftime("%a %H:%M") for c in cutoffs]
    assert local == ["Fri 10:30", "Fri 14:45", "Fri 16:45", "Fri 18:00", "Mon 10:30"]
