"""Originating banks (ODFIs), their cut-off windows in their own time zone, effective
entry dates, and the fee model.

A batch cycle at time T (in the ODFI's zone) gives each transfer its effective date:

* same-day, at most NACHA's same-day limit, T on a business day no later than the last
  same-day cut-off: today;
* otherwise the next business day after today, or the one after that when T is past
  the standard cut-off or not on a business day.

Business days are Monday to Friday (Federal Reserve holidays are not modelled yet).
"""

from __future__ import annotations

import datetime
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


def is_business_day(day: datetime.date) -> bool:
    return day.weekday() not in WEEKEND


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
