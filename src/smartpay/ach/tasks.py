"""The worker's ACH job, one round: batch cycles that are due, the sandbox bank, the
returns inbox, settlement of transfers past their settlement time, and card cost rows.
Order matters: returns are ingested before settlement, so a transfer returned within
its settlement window is never shown as settled first."""

from __future__ import annotations

from smartpay.ach import batching, costs, returns, sandbox_bank, service
from smartpay.platform import Platform


async def run_round(platform: Platform, *, now: int) -> dict[str, int]:
    settings, database, vault = platform.settings, platform.database, platform.vault
    cycle = await batching.run_due_cycles(database, settings, vault, now=now)
    answered = 0
    if settings.ach_sandbox_bank:
        sandbox_bank.take(settings, now=now)
        answered = len(sandbox_bank.respond(settings, now=now))
    ingested = await returns.ingest_inbox(database, settings, vault, now=now)
    async with database.transaction() as session:
        settled = await service.settle_due(session, now)
        card_costs = await costs.record_card_costs(session)
    return {
        "ach_files_written": len(cycle.files) if cycle else 0,
        "ach_sandbox_answers": answered,
        "ach_return_files": len(ingested),
        "ach_settled": settled,
        "card_costs_recorded": card_costs,
    }
