"""Decisions: run the voters concurrently, combine their votes, record everything, act.

Entry points:

- ``DecisionService.decide(session, request)``: vote, record and act in the caller's
  unit of work (it never commits). Voting happens before anything is written; a caller
  that must not hold a transaction open while LLMs answer calls ``vote(request)`` first
  and ``record(session, request, ballot)`` inside its transaction.
- ``DecisionService.decide_payment(...)``: the risk engine's grey-zone hook. Outside
  ``[SMARTPAY_DECISIONS_GREY_ZONE_LOW, ..._HIGH]`` it returns None (the fast path decides);
  inside, the local voters and — in ``budget`` mode — the LLM voters within
  ``SMARTPAY_DECISIONS_PAYMENT_LLM_BUDGET_SECONDS`` decide.
- ``DecisionService.advise(request)``: the LLM voters after the fact (``advisory`` mode),
  recorded in a transaction of its own, acting on nothing.

Voters run at once: local voters inline (microseconds, no I/O), the others as tasks,
each under its own deadline; a voter that misses it abstains. The decision takes as
long as the slowest voter within its deadline, and with every LLM down it still
completes from the local voters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from smartpay.config import Settings
from smartpay.decisions import repository
from smartpay.decisions.actions import ACTION_PLAN, ActionContext, ActionRegistry, render_action
from smartpay.decisions.context import snapshot
from smartpay.decisions.kinds import DecisionKind, Level, spec_for
from smartpay.decisions.models import DecisionMode, VoteStatus, decisions
from smartpay.decisions.strategies import (
    STRATEGIES,
    StrategyParams,
    VoterRecord,
    combine,
    learn_weights,
    vote_credit,
)
from smartpay.decisions.voters import (
    AnomalyVoter,
    DecisionRequest,
    LlmVoter,
    LocalVoter,
    RiskScoreVoter,
    RulesVoter,
    Vote,
    Voter,
    abstain,
)
from smartpay.errors import InvalidRequest, ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.db import Database, Session
from smartpay.kit.ids import new_id
from smartpay.kit.pagination import ListParams, Page
from smartpay.llm.base import LlmClient

logger = logging.getLogger("smartpay.decisions")


@dataclass(frozen=True, slots=True)
class Ballot:
    """The votes of one request and how long collecting them took."""

    votes: tuple[Vote, ...]
    latency_ms: float

    @property
    def cost_usd(self) -> float:
        return sum(vote.cost_usd for vote in self.votes)


@dataclass(slots=True)
class DecisionRecord:
    id: str
    kind: DecisionKind
    outcome: str
    level: Level
    # The rendered decision (as GET /v1/decisions/{id} answers), with its votes and actions.
    body: dict[str, Any]
    # True when the request had been decided before: nothing was voted or done again.
    replayed: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def instruction(self) -> str | None:
        """``continue`` or ``cancel`` for the caller, when the outcome asks for one."""
        for action in self.body.get("actions", []):
            if action["action"] in ("continue", "cancel"):
                return str(action["action"])
        return None


# ---------------------------------------------------------------- settings parsing


def parse_weights(text: str) -> dict[str, float]:
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"SMARTPAY_DECISIONS_WEIGHTS is not JSON: {error}") from None
    if not isinstance(data, dict) or not all(
        isinstance(value, int | float) and value >= 0 for value in data.values()
    ):
        raise ValueError('SMARTPAY_DECISIONS_WEIGHTS must be {"voter": weight >= 0}')
    return {str(key): float(value) for key, value in data.items()}


def parse_unanimity_amounts(text: str) -> dict[str, int]:
    amounts: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        currency, _, amount = part.partition(":")
        if len(currency.strip()) != 3 or not amount.strip().isdigit():
            raise ValueError(
                f"SMARTPAY_DECISIONS_UNANIMITY_AMOUNTS: {part!r} is not currency:minor_units"
            )
        amounts[currency.strip().lower()] = int(amount)
    return amounts


def build_llm_voters(settings: Settings) -> list[LlmVoter]:
    """The configured LLM voters (none when no model is configured: local voters only)."""
    from smartpay.llm.factory import build_llm

    if not settings.decisions_llm_voters.strip():
        client = build_llm(settings)
        return [LlmVoter(client)] if client is not None else []
    try:
        entries = json.loads(settings.decisions_llm_voters)
    except json.JSONDecodeError as error:
        raise ValueError(f"SMARTPAY_DECISIONS_LLM_VOTERS is not JSON: {error}") from None
    if not isinstance(entries, list):
        raise ValueError("SMARTPAY_DECISIONS_LLM_VOTERS must be a JSON list")
    voters = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "provider" not in entry:
            raise ValueError(f"SMARTPAY_DECISIONS_LLM_VOTERS[{index}] needs a provider")
        update: dict[str, Any] = {"llm_provider": entry["provider"]}
        for key in ("model", "api_key", "base_url", "region", "timeout_seconds"):
            if key in entry:
                update[f"llm_{key}"] = entry[key]
        merged = {**settings.model_dump(), **update}
        voter_client: LlmClient | None = build_llm(Settings(**merged))
        if voter_client is not None:
            voters.append(LlmVoter(voter_client, name=entry.get("name")))
    return voters


# ---------------------------------------------------------------- rendering


def render_vote(row: Any) -> dict[str, Any]:
    return {
        "voter": row.voter,
        "model": row.model,
        "status": row.status,
        "decision": row.decision,
        "confidence": row.confidence,
        "risk": row.risk,
        "veto": bool(row.veto),
        "weight": row.weight,
        "rationale": row.rationale,
        "latency_ms": round(row.latency_ms, 3),
        "cost_usd": row.cost_usd,
    }


def render(row: Any, votes: Sequence[Any], actions: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "decision",
        "kind": row.kind,
        "subject": row.subject_id,
        "mode": row.mode,
        "outcome": row.outcome,
        "strategy": row.strategy,
        "risk": row.risk,
        "explanation": row.explanation,
        "escalated": bool(row.escalated),
        "amount": row.amount,
        "currency": row.currency,
        "context": row.context,
        "valid_votes": row.valid_votes,
        "abstentions": row.abstentions,
        "latency_ms": round(row.latency_ms, 3),
        "cost_usd": row.cost_usd,
        "votes": [render_vote(vote) for vote in votes],
        "actions": [render_action(action) for action in actions],
        "ground_truth": row.ground_truth,
        "ground_truth_source": row.ground_truth_source,
        "created": row.created,
        "livemode": False,
    }


async def load(session: Session, merchant_id: str, decision_id: str) -> dict[str, Any]:
    row = await repository.get(session, merchant_id, decision_id)
    if row is None:
        raise ResourceMissing(f"No such decision: '{decision_id}'", param="id")
    return render(
        row,
        await repository.votes_of(session, [row.id]),
        await repository.actions_of(session, [row.id]),
    )


async def render_page(session: Session, page: Page) -> list[dict[str, Any]]:
    ids = [row.id for row in page.rows]
    votes: dict[str, list[Any]] = {}
    for vote in await repository.votes_of(session, ids):
        votes.setdefault(vote.decision_id, []).append(vote)
    actions: dict[str, list[Any]] = {}
    for action in await repository.actions_of(session, ids):
        actions.setdefault(action.decision_id, []).append(action)
    return [render(row, votes.get(row.id, []), actions.get(row.id, [])) for row in page.rows]


async def list_page(
    session: Session,
    merchant_id: str,
    params: ListParams,
    *,
    kind: str | None = None,
    subject: str | None = None,
    outcome: str | None = None,
    escalated: bool | None = None,
    created: Sequence[Any] = (),
) -> Page:
    where = list(created)
    if kind is not None:
        where.append(decisions.c.kind == kind)
    if subject is not None:
        where.append(decisions.c.subject_id == subject)
    if outcome is not None:
        where.append(decisions.c.outcome == outcome)
    if escalated is not None:
        where.append(decisions.c.escalated == escalated)
    return await repository.page(session, merchant_id, params, where)


# ---------------------------------------------------------------- ground truth and voters


async def record_ground_truth(
    session: Session, merchant_id: str, decision_id: str, truth: str, source: str
) -> dict[str, Any]:
    """What really happened (a chargeback: the unfavourable label; a review's verdict),
    for the voters' accuracy and the learnt weights."""
    row = await repository.get(session, merchant_id, decision_id)
    if row is None:
        raise ResourceMissing(f"No such decision: '{decision_id}'", param="id")
    spec = spec_for(row.kind)
    if truth not in spec.labels:
        raise InvalidRequest(
            f"ground_truth must be one of {', '.join(spec.labels)} for {row.kind}.",
            param="ground_truth",
        )
    await repository.set_ground_truth(session, row.id, truth, source, now())
    return await load(session, merchant_id, decision_id)


@dataclass(frozen=True, slots=True)
class VoterStats:
    voter: str
    votes: int  # valid votes
    abstentions: int
    agreement: float | None  # share of its valid votes equal to the final outcome
    record: VoterRecord  # against ground truth

    def to_json(self) -> dict[str, Any]:
        accuracy = self.record.accuracy
        return {
            "voter": self.voter,
            "votes": self.votes,
            "abstentions": self.abstentions,
            "agreement": round(self.agreement, 4) if self.agreement is not None else None,
            "judged": self.record.judged,
            "accuracy": round(accuracy, 4) if accuracy is not None else None,
        }


async def voter_stats(session: Session, merchant_id: str) -> list[VoterStats]:
    tallies: dict[str, dict[str, float]] = {}
    for row in await repository.judged_votes(session, merchant_id):
        tally = tallies.setdefault(
            row.voter, {"votes": 0, "abstentions": 0, "agree": 0, "judged": 0, "correct": 0.0}
        )
        if row.status != VoteStatus.VOTED or row.decision is None:
            tally["abstentions"] += 1
            continue
        tally["votes"] += 1
        tally["agree"] += row.decision == row.outcome
        if row.ground_truth is not None:
            spec = spec_for(row.kind)
            tally["judged"] += 1
            tally["correct"] += vote_credit(spec.level(row.decision), spec.level(row.ground_truth))
    return [
        VoterStats(
            voter=voter,
            votes=int(t["votes"]),
            abstentions=int(t["abstentions"]),
            agreement=t["agree"] / t["votes"] if t["votes"] else None,
            record=VoterRecord(voter, int(t["judged"]), t["correct"]),
        )
        for voter, t in sorted(tallies.items())
    ]


# ---------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class Policy:
    strategy: str
    weights: dict[str, float]
    weights_source: str  # settings | configured | learnt

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "decision_policy",
            "strategy": self.strategy,
            "weights": self.weights,
            "weights_source": self.weights_source,
        }


async def save_policy(
    session: Session,
    merchant_id: str,
    *,
    strategy: str | None,
    weights: Mapping[str, float] | None,
    source: str = "configured",
) -> None:
    current = await repository.policy(session, merchant_id)
    if strategy is not None and strategy not in STRATEGIES:
        raise InvalidRequest(f"strategy must be one of {', '.join(STRATEGIES)}.", param="strategy")
    await repository.save_policy(
        session,
        {
            "merchant_id": merchant_id,
            "strategy": strategy if strategy is not None else (current and current.strategy),
            "weights": dict(weights)
            if weights is not None
            else (current and current.weights) or {},
            "weights_source": source
            if weights is not None
            else (current and current.weights_source) or "configured",
            "updated": now(),
        },
    )


async def learn_policy_weights(session: Session, merchant_id: str) -> dict[str, float]:
    """Weights from each voter's accuracy against ground truth, saved as the merchant's."""
    records = [stats.record for stats in await voter_stats(session, merchant_id)]
    weights = learn_weights([record for record in records if record.judged])
    await save_policy(session, merchant_id, strategy=None, weights=weights, source="learnt")
    return weights


# ---------------------------------------------------------------- the service


class DecisionService:
    """The panel of voters and the strategy settings, built once from Settings."""

    def __init__(
        self,
        settings: Settings,
        database: Database | None = None,
        *,
        local_voters: Sequence[LocalVoter] | None = None,
        remote_voters: Sequence[Voter] | None = None,
        actions: ActionRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self._local_voters = list(local_voters) if local_voters is not None else None
        self._remote_voters = list(remote_voters) if remote_voters is not None else None
        self.actions = actions or ActionRegistry()
        self.default_weights = parse_weights(settings.decisions_weights)
        self.unanimity_amounts = parse_unanimity_amounts(settings.decisions_unanimity_amounts)
        self._advising: set[asyncio.Task[None]] = set()

    @property
    def local_voters(self) -> list[LocalVoter]:
        """The risk model, the rules and the anomaly forest, loaded on first use (the
        models take a moment to load; the API starts without waiting for them)."""
        if self._local_voters is None:
            self._local_voters = default_local_voters()
        return self._local_voters

    @property
    def remote_voters(self) -> list[Voter]:
        if self._remote_voters is None:
            self._remote_voters = list(build_llm_voters(self.settings))
        return self._remote_voters

    async def close(self) -> None:
        if self._advising:
            await asyncio.wait(
                self._advising, timeout=self.settings.decisions_voter_timeout_seconds
            )
        for voter in self._remote_voters or []:
            if isinstance(voter, LlmVoter):
                await voter.client.close()

    # -- voting

    async def vote(
        self,
        request: DecisionRequest,
        *,
        remote_timeout: float | None = None,
        include_remote: bool = True,
    ) -> Ballot:
        """Every voter's vote: the remote ones as concurrent tasks under their deadline,
        the local ones inline meanwhile."""
        spec = spec_for(request.kind)
        started = time.perf_counter()
        timeout = remote_timeout or self.settings.decisions_voter_timeout_seconds
        remote = self.remote_voters if include_remote else []
        tasks = [asyncio.create_task(_within(voter, request, spec, timeout)) for voter in remote]
        local = [_local(voter, request, spec) for voter in self.local_voters]
        answered = await asyncio.gather(*tasks) if tasks else []
        return Ballot(tuple(local) + tuple(answered), (time.perf_counter() - started) * 1000)

    def params(self, policy: Policy, currency: str | None) -> StrategyParams:
        settings = self.settings
        return StrategyParams(
            weights=policy.weights,
            review_threshold=settings.decisions_review_threshold,
            decline_threshold=settings.decisions_decline_threshold,
            spread_threshold=settings.decisions_spread_threshold,
            quorum=settings.decisions_quorum,
            unanimity_amount=self.unanimity_amounts.get((currency or "").lower()),
        )

    def default_policy(self) -> Policy:
        return Policy(self.settings.decisions_strategy, dict(self.default_weights), "settings")

    async def policy(self, session: Session, merchant_id: str) -> Policy:
        row = await repository.policy(session, merchant_id)
        strategy = (row.strategy if row is not None else None) or self.settings.decisions_strategy
        if row is not None and row.weights:
            return Policy(strategy, dict(row.weights), row.weights_source)
        return Policy(strategy, dict(self.default_weights), "settings")

    # -- deciding

    async def decide(self, session: Session, request: DecisionRequest) -> DecisionRecord:
        existing = await repository.by_request_key(session, request.merchant_id, request.key)
        if existing is not None:
            return await self._replay(session, existing)
        return await self.record(session, request, await self.vote(request))

    async def record(
        self, session: Session, request: DecisionRequest, ballot: Ballot
    ) -> DecisionRecord:
        """Combine, persist and act, in the caller's unit of work."""
        existing = await repository.by_request_key(session, request.merchant_id, request.key)
        if existing is not None:
            return await self._replay(session, existing)
        spec = spec_for(request.kind)
        policy = await self.policy(session, request.merchant_id)
        params = self.params(policy, request.currency)
        outcome = combine(policy.strategy, ballot.votes, params, request.amount)
        label = spec.label(outcome.level)
        decision_id = new_id("dec")
        created = now()
        valid = sum(vote.valid for vote in ballot.votes)
        row = {
            "id": decision_id,
            "merchant_id": request.merchant_id,
            "kind": request.kind.value,
            "subject_id": request.subject_id,
            "request_key": request.key,
            "mode": request.mode.value,
            "outcome": label,
            "strategy": policy.strategy,
            "risk": outcome.risk,
            "explanation": outcome.explanation[:500],
            "escalated": outcome.escalated,
            "amount": request.amount,
            "currency": request.currency.lower() if request.currency else None,
            "context": snapshot(request.context),
            "valid_votes": valid,
            "abstentions": len(ballot.votes) - valid,
            "latency_ms": ballot.latency_ms,
            "cost_usd": ballot.cost_usd,
            "ground_truth": None,
            "ground_truth_source": None,
            "ground_truth_at": None,
            "created": created,
        }
        if not await repository.insert_decision(session, row):
            # A concurrent run of the same request won: its decision stands.
            raced = await repository.by_request_key(session, request.merchant_id, request.key)
            assert raced is not None
            return await self._replay(session, raced)
        vote_rows = [
            {
                "id": new_id("dvote"),
                "decision_id": decision_id,
                "merchant_id": request.merchant_id,
                "voter": vote.voter,
                "model": vote.model[:128],
                "status": vote.status.value,
                "decision": vote.decision,
                "confidence": vote.confidence,
                "risk": vote.risk,
                "veto": vote.veto,
                "weight": params.weight(vote.voter),
                "rationale": vote.rationale[:500],
                "latency_ms": vote.latency_ms,
                "cost_usd": vote.cost_usd,
                "created": created,
            }
            for vote in ballot.votes
        ]
        await repository.insert_votes(session, vote_rows)
        body = render(_Row(row), [_Row(vote) for vote in vote_rows], [])
        actions: list[dict[str, Any]] = []
        if request.mode is DecisionMode.DECIDING:
            ctx = ActionContext(request.merchant_id, request.subject_id, body, self.settings)
            actions = await self.actions.run(session, ACTION_PLAN[request.kind][outcome.level], ctx)
            body["actions"] = [
                {key: action[key] for key in ("id", "action", "decision", "status", "result")}
                for action in actions
            ]
        logger.info(
            "decision %s %s %s: %s (%s, %d of %d votes, %.1f ms)",
            decision_id,
            request.kind.value,
            request.subject_id,
            label,
            policy.strategy,
            valid,
            len(ballot.votes),
            ballot.latency_ms,
        )
        return DecisionRecord(decision_id, request.kind, label, outcome.level, body, False, actions)

    async def _replay(self, session: Session, row: Any) -> DecisionRecord:
        body = await load(session, row.merchant_id, row.id)
        spec = spec_for(row.kind)
        return DecisionRecord(
            row.id, DecisionKind(row.kind), row.outcome, spec.level(row.outcome), body, True
        )

    # -- the payment path

    def in_grey_zone(self, score: int) -> bool:
        settings = self.settings
        return settings.decisions_grey_zone_low <= score <= settings.decisions_grey_zone_high

    def payment_request(
        self,
        *,
        merchant_id: str,
        payment_intent_id: str,
        score: int,
        fraud_probability: float | None,
        amount: int,
        currency: str,
        features: npt.NDArray[np.float64] | None = None,
        facts: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        mode: DecisionMode = DecisionMode.DECIDING,
    ) -> DecisionRequest:
        key = f"payment_risk:{payment_intent_id}"
        return DecisionRequest(
            merchant_id=merchant_id,
            kind=DecisionKind.PAYMENT_RISK,
            subject_id=payment_intent_id,
            context={"payment_intent": payment_intent_id, **(context or {})},
            amount=amount,
            currency=currency,
            risk_score=score,
            fraud_probability=fraud_probability,
            features=features,
            facts=facts,
            request_key=key if mode is DecisionMode.DECIDING else f"{key}:advisory",
            mode=mode,
        )

    def payment_advised_by_llms(self) -> bool:
        """Whether LLM voters advise on grey-zone payments after the fact."""
        return self.settings.decisions_payment_llm_mode == "advisory" and bool(self.remote_voters)

    def advise_later(self, request: DecisionRequest) -> None:
        """``advise`` in the background, once the payment's transaction has committed;
        ``close`` waits for what is still running."""
        task = asyncio.get_running_loop().create_task(self._advise_quietly(request))
        self._advising.add(task)
        task.add_done_callback(self._advising.discard)

    async def _advise_quietly(self, request: DecisionRequest) -> None:
        try:
            await self.advise(request)
        except Exception:  # advice is best effort: the payment has been decided
            logger.exception("advisory decision on %s failed", request.subject_id)

    def payment_needs_llm_ballot(self) -> bool:
        """Whether a grey-zone payment waits for LLM votes (within the budget), which
        the payment flow collects with no database transaction open."""
        return self.settings.decisions_payment_llm_mode == "budget" and bool(self.remote_voters)

    async def vote_payment(self, request: DecisionRequest) -> Ballot:
        """The deciding ballot of a grey-zone payment: LLM voters within the payment
        budget, or none of them in advisory mode (``advise`` asks them afterwards)."""
        if self.settings.decisions_payment_llm_mode == "advisory":
            return await self.vote(request, include_remote=False)
        budget = min(
            self.settings.decisions_payment_llm_budget_seconds,
            self.settings.decisions_voter_timeout_seconds,
        )
        return await self.vote(request, remote_timeout=budget)

    async def decide_payment(
        self, session: Session, request: DecisionRequest
    ) -> DecisionRecord | None:
        """None outside the grey zone; else the consensus decision, acted on."""
        if request.risk_score is None or not self.in_grey_zone(request.risk_score):
            return None
        existing = await repository.by_request_key(session, request.merchant_id, request.key)
        if existing is not None:
            return await self._replay(session, existing)
        return await self.record(session, request, await self.vote_payment(request))

    async def advise(self, request: DecisionRequest) -> DecisionRecord | None:
        """Every voter, LLMs included, recorded as an advisory decision in its own
        transaction; acts on nothing. None when there is no remote voter to ask."""
        if not self.remote_voters or self.database is None:
            return None
        advisory = dataclasses.replace(
            request, mode=DecisionMode.ADVISORY, request_key=f"{request.key}:advisory"
        )
        ballot = await self.vote(advisory)
        async with self.database.transaction() as session:
            return await self.record(session, advisory, ballot)


class _Row:
    """Attribute access over a dict of the values just written (for `render`)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def _local(voter: LocalVoter, request: DecisionRequest, spec: Any) -> Vote:
    started = time.perf_counter()
    try:
        return voter.vote_now(request, spec)
    except Exception as error:  # one broken voter must not stop the decision
        logger.warning("voter %s failed: %s", voter.name, type(error).__name__)
        return abstain(voter.name, voter.model, VoteStatus.FAILED, type(error).__name__, started)


async def _within(voter: Voter, request: DecisionRequest, spec: Any, seconds: float) -> Vote:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            return await voter.vote(request, spec)
    except TimeoutError:
        return abstain(
            voter.name, voter.model, VoteStatus.TIMEOUT, f"no vote within {seconds:g} s", started
        )
    except Exception as error:  # a voter's failure is its abstention, never the decision's
        logger.warning("voter %s failed: %s", voter.name, type(error).__name__)
        return abstain(voter.name, voter.model, VoteStatus.FAILED, type(error).__name__, started)


def default_local_voters() -> list[LocalVoter]:
    from smartpay.decisions.anomaly import AnomalyForest
    from smartpay.risk.model import ModelFileError, RiskModel

    voters: list[LocalVoter] = []
    try:
        voters.append(RiskScoreVoter(RiskModel.load()))
    except ModelFileError as error:
        logger.warning("risk model voter without a model (scores from callers only): %s", error)
        voters.append(RiskScoreVoter(None))
    voters.append(RulesVoter())
    try:
        voters.append(AnomalyVoter(AnomalyForest.load()))
    except ModelFileError as error:
        logger.warning("no anomaly forest voter: %s", error)
    return voters
