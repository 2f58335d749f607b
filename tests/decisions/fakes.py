"""Voters with scripted answers, for the service and strategy tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from smartpay.decisions.kinds import KindSpec, Level
from smartpay.decisions.models import VoteStatus
from smartpay.decisions.voters import DecisionRequest, Vote


def vote(
    voter: str,
    decision: str | None,
    risk: float | None = None,
    *,
    status: VoteStatus = VoteStatus.VOTED,
    veto: bool = False,
) -> Vote:
    return Vote(
        voter,
        f"fake:{voter}",
        status,
        decision=decision,
        confidence=0.9 if decision else None,
        risk=risk,
        rationale="scripted",
        veto=veto,
    )


@dataclass
class FixedLocalVoter:
    """A local voter answering one level (its risk given) every time."""

    name: str
    level: Level
    risk: float
    veto: bool = False
    model: str = "fake-local"
    calls: int = 0

    def vote_now(self, request: DecisionRequest, spec: KindSpec) -> Vote:
        self.calls += 1
        return Vote(
            self.name,
            self.model,
            VoteStatus.VOTED,
            decision=spec.label(self.level),
            confidence=0.9,
            risk=self.risk,
            rationale="fixed",
            veto=self.veto,
        )


@dataclass
class SlowVoter:
    """A remote voter that answers after ``delay`` seconds (None: never)."""

    name: str
    delay: float | None
    level: Level = Level.FAVOURABLE
    risk: float = 0.05
    model: str = "fake-remote"
    log: list[str] = field(default_factory=list)

    async def vote(self, request: DecisionRequest, spec: KindSpec) -> Vote:
        self.log.append(f"start {self.name}")
        if self.delay is None:
            await asyncio.Event().wait()  # hangs until cancelled by the deadline
        else:
            await asyncio.sleep(self.delay)
        self.log.append(f"end {self.name}")
        return Vote(
            self.name,
            self.model,
            VoteStatus.VOTED,
            decision=spec.label(self.level),
            confidence=0.8,
            risk=self.risk,
            rationale="slow",
        )


class BrokenVoter:
    name = "broken"
    model = "fake-broken"

    async def vote(self, request: DecisionRequest, spec: KindSpec) -> Vote:
        raise ConnectionError("provider down")
