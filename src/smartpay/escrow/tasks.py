"""The worker's escrow job: release what is due, and finish dispute refunds whose
outcome was learnt after the request returned (a processor timeout resolved later)."""

from __future__ import annotations

from smartpay.escrow import repository, service
from smartpay.platform import Platform

# Escrows released per round: bounds one transaction; a backlog drains over rounds.
RELEASE_BATCH = 200


async def run_round(platform: Platform, *, now: int) -> dict[str, int]:
    released = 0
    async with platform.database.transaction() as session:
        for row in await repository.candidates_due(session, now, RELEASE_BATCH):
            locked = await repository.get(session, row.merchant_id, row.id, for_update=True)
            if locked is not None and service.is_due(locked, now):
                await service.release(session, locked, None, platform.settings)
                released += 1
        for row in await repository.disputed_with_refund(session):
            if row.refund_status == "succeeded":
                await service.apply_refund(session, row, row.refund_id, int(row.refund_amount))
    return {"escrows_released": released}
