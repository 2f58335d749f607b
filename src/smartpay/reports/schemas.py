"""Report query parameters: the period, as Stripe's ``created[gte]``/``created[lt]``
range or as ``start``/``end`` unix times, always turned into one half-open [start, end)."""

from __future__ import annotations

from pydantic import Field

from smartpay.errors import InvalidRequest
from smartpay.kit.pagination import CreatedFilter, UnixTime
from smartpay.kit.params import StripeParams
from smartpay.reports.repository import Period


class ReportQuery(StripeParams):
    created: CreatedFilter | None = Field(default=None)
    start: UnixTime | None = Field(default=None, description="Period start (inclusive).")
    end: UnixTime | None = Field(default=None, description="Period end (exclusive).")

    def period(self) -> Period:
        """The period asked for; 400 with ``param`` for one that cannot be meant."""
        created = self.created
        if created is not None and (self.start is not None or self.end is not None):
            raise InvalidRequest(
                "Give the period as created[gte]/created[lt] or as start/end, not both.",
                param="start" if self.start is not None else "end",
            )
        start, end = self.start, self.end
        if created is not None:
            if created.gte is not None and created.gt is not None:
                raise InvalidRequest(
                    "Use created[gte] or created[gt], not both.", param="created[gt]"
                )
            if created.lt is not None and created.lte is not None:
                raise InvalidRequest(
                    "Use created[lt] or created[lte], not both.", param="created[lte]"
                )
            # Whole seconds: "after t" starts at t + 1, "up to t" ends before t + 1.
            start = created.gte if created.gt is None else created.gt + 1
            end = created.lt if created.lte is None else created.lte + 1
        if start is not None and end is not None and start >= end:
            param = "end" if self.end is not None else "created[lt]"
            if created is not None and created.lte is not None:
                param = "created[lte]"
            raise InvalidRequest("The period must end after it starts.", param=param)
        return Period(start=start, end=end)
