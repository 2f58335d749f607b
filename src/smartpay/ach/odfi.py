"""Originating banks (ODFIs), their cut-off windows in their own time zone, effective
entry dates, and the fee model.

A batch cycle at time T (in the ODFI's zone) gives each transfer its effective date:

* same-day, at most NACHA's same-day limit, T on a business day no later than the last
  same-day cut-off: today;
* otherwise the next business day after today, or the one after that when T is past
  the standard cut-off or not on a business day.

Business (banking) days are the days the Federal Reserve's FedACH operates: Monday to
Friday except Federal Reserve holidays (``federal_reserve_holidays``). Cut-offs fall on
banking days only, so the worker runs no cycle on a weekend or a holiday.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from smartpay.ach.models import Speed
from smartpay.config import Settings
from smartpay.errors import InvalidRequest

# NACHA Operating Rules (same-day ACH, effective March 2022): an entry of more than
# $1,000,000 cannot be sent same day.
SAME_DAY_LIMIT = 100_000_000  # cents
# NACHA: at most 9,999,999 entries... but ODFIs cap a batch far lower; 2,500 entries is
# the common ODFI limit (and keeps a batch control's 6-digit count far from overflow).
MAX_BATCH_ENTRIES = 2_500
# The Federal Reserve's FedACH same-day submission deadlines (10:30, 14:45, 16:45 ET);
# a standard file is due at an ODFI's end of day (18:00 is typical).
DEFAULT_SAME_DAY_CUTOFFS = "10:30,14:45,16:45"
DEFAULT_STANDARD_CUTOFF = "18:00"
DEFAULT_TIMEZONE = "America/New_York"
SANDBOX_ODFI = "sandbox"
# Stripe's test bank routing number: the sandbox ODFI and its test accounts' RDFI.
SANDBOX_ROUTING_NUMBER = "110000000"
# Saturday and Sunday (date.weekday()).
WEEKEND = frozenset({5, 6})
SATURDAY, SUNDAY = 5, 6
# Juneteenth became a federal holiday in June 2021; the Federal Reserve Banks first
# closed for it in 2022 (FedACH operated on 18 June 2021).
JUNETEENTH_FIRST_FED_YEAR = 2022


@dataclass(frozen=True, slots=True)
class Odfi:
    key: str
    routing_number: str
    name: str
    timezone: ZoneInfo
    same_day_cutoffs: tuple[datetime.time, ...]
    standard_cutoff: datetime.time

    @property
    def identification(self) -> str:
        """The 8-digit ODFI identification of batch headers and trace numbers."""
        return self.routing_number[:8]

    def local(self, unix: int) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(unix, tz=self.timezone)

    def cutoffs_between(self, after: int, until: int) -> list[int]:
        """Every cut-off instant (unix) in (after, until], oldest first."""
        found: list[int] = []
        day = self.local(after).date()
        last = self.local(until).date()
        while day <= last:
            if not is_business_day(day):
                day += datetime.timedelta(days=1)
                continue
            for cut in (*self.same_day_cutoffs, self.standard_cutoff):
                instant = int(datetime.datetime.combine(day, cut, tzinfo=self.timezone).timestamp())
                if after < instant <= until:
                    found.append(instant)
            day += datetime.timedelta(days=1)
        return sorted(set(found))

    def effective_date(self, speed: str, amount: int, at: int) -> datetime.date:
        moment = self.local(at)
        today, time_of_day = moment.date(), moment.time()
        business = is_business_day(today)
        if (
            speed == Speed.SAME_DAY
            and amount <= SAME_DAY_LIMIT
            and business
            and self.same_day_cutoffs
            and time_of_day <= max(self.same_day_cutoffs)
        ):
            return today
        base = today if business and time_of_day <= self.standard_cutoff else next_business(today)
        return next_business(base)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> datetime.date:
    """The ``n``-th ``weekday`` (0 = Monday) of the month; ``n = -1`` for the last."""
    days = [
        week[weekday]
        for week in calendar.Calendar().monthdatescalendar(year, month)
        if week[weekday].month == month
    ]
    return days[n if n < 0 else n - 1]


@functools.cache
def federal_reserve_holidays(year: int) -> frozenset[datetime.date]:
    """The days of ``year`` the Federal Reserve Banks are closed (FedACH does not
    operate), by the Fed's published rule: the eleven federal holidays, a holiday on a
    Sunday observed the Monday after, and one on a Saturday not observed at all (the
    Reserve Banks are open the Friday before, unlike federal offices)."""
    fixed = [
        datetime.date(year, 1, 1),  # New Year's Day
        datetime.date(year, 7, 4),  # Independence Day
        datetime.date(year, 11, 11),  # Veterans Day
        datetime.date(year, 12, 25),  # Christmas Day
    ]
    if year >= JUNETEENTH_FIRST_FED_YEAR:
        fixed.append(datetime.date(year, 6, 19))  # Juneteenth National Independence Day
    days: set[datetime.date] = set()
    for day in fixed:
        if day.weekday() == SUNDAY:
            days.add(day + datetime.timedelta(days=1))
        elif day.weekday() != SATURDAY:
            days.add(day)
    monday, thursday = calendar.MONDAY, calendar.THURSDAY
    days.update(
        {
            _nth_weekday(year, 1, monday, 3),  # Birthday of Martin Luther King, Jr.
            _nth_weekday(year, 2, monday, 3),  # Washington's Birthday
            _nth_weekday(year, 5, monday, -1),  # Memorial Day
            _nth_weekday(year, 9, monday, 1),  # Labor Day
            _nth_weekday(year, 10, monday, 2),  # Columbus Day
            _nth_weekday(year, 11, thursday, 4),  # Thanksgiving Day
        }
    )
    return frozenset(days)


def is_business_day(day: datetime.date) -> bool:
    """A banking day: FedACH operates (a weekday that is no Federal Reserve holiday)."""
    return day.weekday() not in WEEKEND and day not in federal_reserve_holidays(day.year)


def next_business(day: datetime.date) -> datetime.date:
    day += datetime.timedelta(days=1)
    while not is_business_day(day):
        day += datetime.timedelta(days=1)
    return day


def _times(text: str) -> tuple[datetime.time, ...]:
    return tuple(
        sorted(datetime.time.fromisoformat(part.strip()) for part in text.split(",") if part)
    )


def odfis(settings: Settings) -> dict[str, Odfi]:
    """The configured ODFIs (SMARTPAY_ACH_ODFIS), first one the default."""
    raw: dict[str, dict[str, str]] = (
        json.loads(settings.ach_odfis)
        if settings.ach_odfis
        else {SANDBOX_ODFI: {"routing_number": SANDBOX_ROUTING_NUMBER, "name": "SANDBOX BANK"}}
    )
    result: dict[str, Odfi] = {}
    for key, spec in raw.items():
        result[key] = Odfi(
            key=key,
            routing_number=spec["routing_number"],
            name=spec.get("name", key.upper())[:23],
            timezone=ZoneInfo(spec.get("timezone", DEFAULT_TIMEZONE)),
            same_day_cutoffs=_times(spec.get("same_day_cutoffs", DEFAULT_SAME_DAY_CUTOFFS)),
            standard_cutoff=datetime.time.fromisoformat(
                spec.get("standard_cutoff", DEFAULT_STANDARD_CUTOFF)
            ),
        )
    return result


def choose_odfi(settings: Settings, requested: str | None) -> Odfi:
    available = odfis(settings)
    if requested is None:
        return next(iter(available.values()))
    if requested not in available:
        raise InvalidRequest(
            f"Unknown odfi {requested[:40]!r}: configured are {', '.join(available)}.",
            param="odfi",
        )
    return available[requested]


def allocate(total: int, parts: int) -> list[int]:
    """``total`` cents split over ``parts`` as evenly as whole cents allow (the first
    ones carry the remainder), so the shares always add up to the total."""
    share, remainder = divmod(total, parts)
    return [share + (1 if index < remainder else 0) for index in range(parts)]


def entry_fees(settings: Settings, batch_entries: int) -> list[int]:
    """Each entry's share of its batch's fee under the configured fee model."""
    if settings.ach_fee_model == "per_entry":
        return [settings.ach_fee_amount] * batch_entries
    return allocate(settings.ach_fee_amount, batch_entries)
