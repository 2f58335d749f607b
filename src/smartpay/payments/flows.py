"""Multi-step payment work: confirm, capture, cancel and refund.

Each flow is a sequence of recorded states, never one long transaction around a
processor call:

1. In one transaction: claim the Idempotency-Key, check and move the intent, and record
   the attempt as ``pending`` (with the card decrypted into memory). Commit.
2. Call the processor with an idempotency key derived from SmartPay's ids.
3. In one transaction: apply the outcome (attempt, charge, intent, ledger, events, the
   stored idempotent response). Commit.

If the process dies between 1 and 3, the attempt stays ``pending``; a call that times
out leaves it ``unknown``. The janitor (``resolve_open_attempts``) asks the processor
what happened and applies it through the same functions as step 3. Outcomes are applied
only by whoever moves the attempt out of its open status, so nothing is applied twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.responses import Response
from opentelemetry import trace

from smartpay.ach import service as ach
from smartpay.ach.models import ACH_PROCESSOR
from smartpay.cards.schemas import card_summary
from smartpay.cards.service import cvc_key
from smartpay.config import Settings
from smartpay.connectors.base import (
    AuthorizeRequest,
    AuthorizeResult,
    AuthOutcome,
    OperationResult,
    OperationStatus,
    ProcessorRecord,
    RecordStatus,
)
from smartpay.connectors.facts import amount_band, bin_of, issuer_country
from smartpay.connectors.registry import ConnectorRegistry
from smartpay.dependencies import WriteContext
from smartpay.errors import (
    CardError,
    InvalidRequest,
    InvalidState,
    MissingParameter,
    OutcomeUnknown,
    ProcessorUnavailable,
    ResourceMissing,
)
from smartpay.events.service import EventBatch
from smartpay.kit import idempotency
from smartpay.kit.api import json_bytes
from smartpay.kit.clock import now
from smartpay.kit.db import Database, Session, snapshot
from smartpay.kit.ids import new_id
from smartpay.kit.money import check_amount
from smartpay.kit.params import merge_metadata
from smartpay.ledger import service as ledger
from smartpay.payments import repository
from smartpay.payments.models import (
    OPEN_ATTEMPT,
    AttemptStatus,
    CaptureMethod,
    ChargeStatus,
    IntentStatus,
    RefundStatus,
)
from smartpay.payments.schemas import (
    PaymentIntentCancel,
    PaymentIntentCapture,
    PaymentIntentConfirm,
    PaymentIntentCreate,
    RefundCreate,
    render_charge,
    render_payment_intent,
    render_refund,
)
from smartpay.payments.service import (
    check_confirmable,
    check_transition,
    get_intent,
    new_charge_values,
    new_intent_values,
    resolve_payment_method,
)
from smartpay.risk import payment_path as risk_path
from smartpay.risk.service import RiskService, ensure_not_held, stripe_outcome_fields
from smartpay.routing.bandit import (
    Observation,
    OutcomeKind,
    PaymentContext,
    classify_decline,
    is_retryable_decline,
)
from smartpay.routing.service import Decision, RoutingService
from smartpay.vault.cvc import CvcStore
from smartpay.vault.service import Vault

if TYPE_CHECKING:
    from smartpay.decisions.service import Ballot, DecisionService
    from smartpay.decisions.voters import DecisionRequest

logger = logging.getLogger("smartpay.payments")
# No-op until tracing is configured (ops/tracing.py installs the provider).
_tracer = trace.get_tracer("smartpay.payments")
T = TypeVar("T")

# A pending attempt older than the processor timeout plus this margin belongs to a
# request that died; younger ones may still be in flight and are left alone.
PENDING_GRACE_SECONDS = 5.0
JANITOR_BATCH = 200


@dataclass(slots=True)
class _Authorization:
    """What phase 1 hands to the processor call."""

    intent: Any  # snapshots of what phase one wrote, so phase three need not re-read
    attempt: Any
    charge: Any
    processors: list[str]
    request: AuthorizeRequest
    decision: Decision | None = None
    segment: str = ""
    # A grey-zone payment the LLM voters are to advise on once phase one has committed.
    advice: DecisionRequest | None = None


class PaymentFlows:
    def __init__(
        self,
        *,
        database: Database,
        settings: Settings,
        vault: Vault,
        cvc_store: CvcStore,
        connectors: ConnectorRegistry,
        routing: RoutingService | None = None,
        risk: RiskService | None = None,
        decisions: DecisionService | None = None,
    ) -> None:
        """Without ``routing`` processors are tried in SMARTPAY_PROCESSORS order and only
        a processor that certainly did nothing is failed over (the pre-routing behaviour).
        Without ``risk`` (SMARTPAY_RISK_ENABLED=false) confirmations are not scored;
        without ``decisions`` the risk engine's fast path decides grey-zone scores too."""
        self.database = database
        self.settings = settings
        self.vault = vault
        self.cvc_store = cvc_store
        self.connectors = connectors
        self.routing = routing
        self.risk = risk
        self.decisions = decisions

    # ----------------------------------------------------------------- confirm

    async def create_and_maybe_confirm(
        self, ctx: WriteContext, params: PaymentIntentCreate
    ) -> Response:
        merchant_id = ctx.merchant.merchant_id

        async def phase_one(ballot: Ballot | None = None) -> Response | _Authorization:
            async with self.database.transaction() as session:
                replay = await ctx.claim(session)
                if replay is not None:
                    return replay
                values, method = await new_intent_values(
                    session, merchant_id, params, vault=self.vault
                )
                await repository.insert_intent(session, **values)
                events = EventBatch(merchant_id, ctx.idempotency_key)
                intent = snapshot(values)
                events.add("payment_intent.created", render_payment_intent(intent))
                if not params.confirm:
                    await events.flush(session)
                    return await ctx.complete(session, 200, render_payment_intent(intent))
                confirm = PaymentIntentConfirm(return_url=params.return_url)
                return await self._begin_confirmation(
                    session, ctx, intent, confirm, events, method=method, ballot=ballot
                )

        return await self._run_confirmation(ctx, phase_one)

    async def confirm(
        self, ctx: WriteContext, intent_id: str, params: PaymentIntentConfirm
    ) -> Response:
        merchant_id = ctx.merchant.merchant_id

        async def phase_one(ballot: Ballot | None = None) -> Response | _Authorization:
            async with self.database.transaction() as session:
                claimed = await self._claim_and_lock(session, ctx, intent_id)
                if isinstance(claimed, Response):
                    return claimed
                intent = claimed
                events = EventBatch(merchant_id, ctx.idempotency_key)
                return await self._begin_confirmation(
                    session, ctx, intent, params, events, ballot=ballot
                )

        return await self._run_confirmation(ctx, phase_one)

    async def _claim_and_lock(
        self, session: Session, ctx: WriteContext, intent_id: str
    ) -> Response | Any:
        """Claim the request's Idempotency-Key (a Response means: replay it), then read
        and lock the intent the request works on."""
        replay = await ctx.claim(session)
        if replay is not None:
            return replay
        return await get_intent(session, ctx.merchant.merchant_id, intent_id, for_update=True)

    async def _run_confirmation(self, ctx: WriteContext, phase_one: Any) -> Response:
        async def attempt() -> Response:
            try:
                started = await phase_one()
            except risk_path.BallotNeeded as needed:
                # Phase one rolled back: the LLM voters answer with no transaction open.
                assert self.decisions is not None
                ballot = await self.decisions.vote_payment(needed.request)
                started = await phase_one(ballot=ballot)
            if isinstance(started, Response):
                return started
            if started.advice is not None and self.decisions is not None:
                self.decisions.advise_later(started.advice)
            return await self._authorize(ctx, started)

        return await ctx.retrying_conflicts(attempt)

    async def _begin_confirmation(
        self,
        session: Session,
        ctx: WriteContext,
        intent: Any,
        params: PaymentIntentConfirm,
        events: EventBatch,
        *,
        method: Any = None,
        ballot: Ballot | None = None,
    ) -> _Authorization | Response:
        """Phase one of a confirmation: a us_bank_account payment method goes to the ACH
        service (an ACH debit, the intent ``processing`` until it settles); a card goes on
        to authorization with the payment method row the ACH service read, if any."""
        bank_payment = await ach.confirm_payment_intent(
            session,
            ctx,
            intent,
            params,
            events,
            method=method,
            settings=self.settings,
            vault=self.vault,
        )
        if isinstance(bank_payment, Response):
            return bank_payment
        return await self._begin_authorization(
            session, ctx, intent, params, events, method=bank_payment, ballot=ballot
        )

    async def _begin_authorization(
        self,
        session: Session,
        ctx: WriteContext,
        intent: Any,
        params: PaymentIntentConfirm,
        events: EventBatch,
        *,
        method: Any = None,
        ballot: Ballot | None = None,
    ) -> _Authorization | Response:
        """Phase one of a confirmation. ``method`` is the payment method's row when the
        caller already read it; ``ballot``, the LLM votes collected after a
        ``BallotNeeded``."""
        merchant_id = ctx.merchant.merchant_id
        check_confirmable(intent)
        payment_method_id = params.payment_method or intent.payment_method_id
        if payment_method_id is None:
            raise MissingParameter(
                "You cannot confirm this PaymentIntent because it's missing a payment "
                "method. Update it with a payment_method, or pass payment_method here.",
                param="payment_method",
            )
        if method is None or method.id != payment_method_id:
            method = await resolve_payment_method(
                session, merchant_id, payment_method_id, intent.customer_id, vault=self.vault
            )
        capture_method = params.capture_method or intent.capture_method
        card = await self.vault.load_card(session, merchant_id, method.vault_token)
        attempt_id = new_id("att")
        charge_id = new_id("ch")
        started = time.time()
        capture = capture_method != CaptureMethod.MANUAL
        # Risk (issue 4): scored before routing; a block never reaches a processor, a
        # review is authorized without capture and held until a reviewer approves.
        verdict = None
        advice = None
        if self.risk is not None:
            verdict = await risk_path.assess_confirmation(
                self.risk,
                session,
                merchant_id,
                intent,
                method,
                card,
                receipt_email=params.receipt_email,
                timestamp=started,
            )
            consensus = (
                risk_path.consensus_request(
                    self.decisions,
                    merchant_id,
                    intent,
                    method,
                    charge_id,
                    verdict,
                    warmup_days=self.settings.risk_warmup_days,
                )
                if self.decisions is not None
                else None
            )
            if consensus is not None:
                assert self.decisions is not None
                try:
                    verdict = await risk_path.consult_consensus(
                        self.decisions, session, consensus, verdict, ballot
                    )
                except risk_path.BallotNeeded:
                    card.wipe()
                    raise
                if self.decisions.payment_advised_by_llms():
                    advice = consensus
            if verdict.blocked:
                card.wipe()
                return await risk_path.decline_blocked(
                    session, ctx, intent, method, verdict, events, capture_method=capture_method
                )
            if verdict.held:
                capture = False
        processors = self.connectors.names
        decision: Decision | None = None
        context: PaymentContext | None = None
        routing_details: dict[str, Any] | None = None
        if self.routing is not None:
            context = PaymentContext(
                merchant_id=merchant_id,
                amount=intent.amount,
                currency=intent.currency,
                brand=method.brand,
                country=issuer_country(card.number),
                amount_band=amount_band(intent.amount, intent.currency),
                bin=bin_of(card.number),
                customer=intent.customer_id,
                metadata={key: str(value) for key, value in (intent.metadata or {}).items()},
                key=intent.id,
            )
            decision = await self.routing.decide(session, context)
            processors = decision.processors
            routing_details = {
                **decision.as_details(),
                "attempts": [{"attempt": attempt_id, "processor": processors[0]}],
            }
        charge = new_charge_values(
            charge_id=charge_id,
            intent=intent,
            method=method,
            payment_method_details=card_summary(method),
            processor=processors[0],
            created=int(started),
        )
        attempt = {
            "id": attempt_id,
            "merchant_id": merchant_id,
            "payment_intent_id": intent.id,
            "charge_id": charge_id,
            "operation": "authorize",
            "processor": processors[0],
            "idempotency_key": attempt_id,
            "amount": intent.amount,
            "currency": intent.currency,
            "capture": capture,
            "status": AttemptStatus.PENDING.value,
            "processor_reference": None,
            "decline_code": None,
            "error_code": None,
            "fee": 0,
            "started_at": started,
            "finished_at": None,
            "routing": decision.reason_for(processors[0], 0) if decision else None,
        }
        await repository.insert_charge(session, **charge)
        await repository.insert_attempt(session, **attempt)
        check_transition(intent.status, IntentStatus.PROCESSING)
        intent_changes = {
            "status": IntentStatus.PROCESSING.value,
            "payment_method_id": method.id,
            "capture_method": capture_method,
            "latest_charge_id": charge_id,
            "last_payment_error": None,
            "receipt_email": params.receipt_email or intent.receipt_email,
            "return_url": params.return_url or intent.return_url,
            "routing": routing_details,
        }
        if verdict is not None:
            intent_changes["risk"] = verdict.assessment.as_details()
            if verdict.held:
                intent_changes["review_id"] = await risk_path.hold_for_review(
                    session,
                    merchant_id,
                    intent,
                    verdict,
                    capture=capture_method != CaptureMethod.MANUAL,
                )
        await repository.update_intent(session, intent.id, **intent_changes)
        await ctx.attach(session, intent.id)
        await events.flush(session)
        card.cvc = await self.cvc_store.take(cvc_key(method.id))
        return _Authorization(
            intent=snapshot(intent, **intent_changes),
            attempt=snapshot(attempt),
            charge=snapshot(charge),
            processors=processors,
            request=AuthorizeRequest(
                idempotency_key=attempt_id,
                merchant_id=merchant_id,
                amount=intent.amount,
                currency=intent.currency,
                card=card,
                capture=capture,
                description=intent.description,
            ),
            decision=decision,
            segment=context.segment if context is not None else "",
            advice=advice,
        )

    async def _authorize(self, ctx: WriteContext, auth: _Authorization) -> Response:
        """Call the routed processors in order: the cascade.

        The next processor is tried after a technical failure (the processor certainly did
        nothing) and, with routing, after a retryable soft decline; at most
        SMARTPAY_ROUTING_MAX_ATTEMPTS processors and never once the confirmation has run
        SMARTPAY_ROUTING_TIME_BUDGET_SECONDS. Never after a hard decline, and never after an
        unknown outcome: that ends the confirmation with the intent ``processing`` until the
        janitor learns what happened, so a customer is never charged twice."""
        attempt = auth.attempt
        request = auth.request
        started = time.monotonic()
        try:
            index = 0
            while True:
                processor = auth.processors[index]
                connector = self.connectors.get(processor)
                called = time.monotonic()
                try:
                    result = await self._call_processor(
                        processor, "authorize", connector.authorize(request)
                    )
                except ProcessorUnavailable as exc:
                    logger.warning(
                        "processor %s unavailable for %s: %s", processor, attempt.id, exc
                    )
                    await self._learn(auth, processor, Observation(OutcomeKind.TECHNICAL), called)
                    next_processor = self._next_processor(auth, index, started)
                    attempt = await self._fail_over(
                        auth,
                        attempt,
                        next_processor,
                        status=AttemptStatus.FAILED.value,
                        error_code="processor_unavailable",
                    )
                    if next_processor is None:
                        return await self._finish_unavailable(ctx, auth.intent.id)
                    request = dataclasses.replace(request, idempotency_key=attempt.id)
                    index += 1
                    continue
                except (OutcomeUnknown, TimeoutError):
                    await self._learn(auth, processor, Observation(OutcomeKind.TIMEOUT), called)
                    return await self._finish_unknown(ctx, auth.intent.id, attempt.id)
                await self._learn(auth, processor, _observation(result), called)
                if result.outcome is AuthOutcome.DECLINED and self._retryable(result):
                    next_processor = self._next_processor(auth, index, started)
                    if next_processor is not None:
                        logger.info(
                            "processor %s soft-declined %s (%s): trying %s",
                            processor,
                            attempt.id,
                            result.decline_code or result.error_code,
                            next_processor,
                        )
                        attempt = await self._fail_over(
                            auth,
                            attempt,
                            next_processor,
                            status=AttemptStatus.DECLINED.value,
                            error_code=result.error_code,
                            decline_code=result.decline_code,
                            processor_reference=result.processor_reference,
                        )
                        request = dataclasses.replace(request, idempotency_key=attempt.id)
                        index += 1
                        continue
                async with self.database.transaction() as session:
                    status, body = await self.apply_authorization(
                        session, attempt, result, ctx, intent=auth.intent, charge=auth.charge
                    )
                    return await ctx.complete(session, status, body)
        finally:
            request.card.wipe()

    async def _call_processor(self, processor: str, operation: str, call: Awaitable[T]) -> T:
        """Every processor call: under SMARTPAY_PROCESSOR_TIMEOUT_SECONDS, in a span of
        its own when tracing is on (the processor's name and the operation; never the
        request, which holds the card)."""
        with _tracer.start_as_current_span(f"processor.{operation} {processor}") as span:
            span.set_attribute("smartpay.processor", processor)
            span.set_attribute("smartpay.processor.operation", operation)
            return await asyncio.wait_for(call, timeout=self.settings.processor_timeout_seconds)

    def _retryable(self, result: AuthorizeResult) -> bool:
        if self.routing is None:
            return False
        return is_retryable_decline(result.decline_code, result.error_code, self.routing.retryable)

    def _next_processor(self, auth: _Authorization, index: int, started: float) -> str | None:
        """The processor to cascade to after ``auth.processors[index]``, if any is left
        within the attempt limit and the time budget."""
        following = index + 1
        if following >= len(auth.processors):
            return None
        if self.routing is not None:
            if following >= self.settings.routing_max_attempts:
                return None
            if time.monotonic() - started >= self.settings.routing_time_budget_seconds:
                return None
        return auth.processors[following]

    async def _learn(
        self, auth: _Authorization, processor: str, observation: Observation, called: float
    ) -> None:
        if self.routing is None:
            return
        latency_ms = (time.monotonic() - called) * 1000.0
        try:
            await self.routing.observe(
                auth.attempt.merchant_id, processor, auth.segment, observation, latency_ms
            )
        except Exception:
            # Learning is best effort: a statistics store that is down must never fail a
            # payment the processor has already answered (that outcome is applied next).
            logger.exception("routing: could not record the outcome of %s", processor)

    async def _fail_over(
        self,
        auth: _Authorization,
        attempt: Any,
        next_processor: str | None,
        **final: Any,
    ) -> Any:
        """Close the attempt with ``final`` (status and codes) and, if another processor
        remains, record a new pending attempt there, which is returned."""
        async with self.database.transaction() as session:
            await repository.update_attempt(session, attempt.id, finished_at=time.time(), **final)
            if next_processor is None:
                return attempt
            new_attempt_id = new_id("att")
            position = auth.processors.index(next_processor)
            new_attempt = snapshot(
                attempt,
                id=new_attempt_id,
                idempotency_key=new_attempt_id,
                processor=next_processor,
                status=AttemptStatus.PENDING.value,
                processor_reference=None,
                decline_code=None,
                error_code=None,
                started_at=time.time(),
                finished_at=None,
                routing=(
                    auth.decision.reason_for(next_processor, position) if auth.decision else None
                ),
            )
            await repository.insert_attempt(session, **vars(new_attempt))
            await repository.update_charge(session, attempt.charge_id, processor=next_processor)
            auth.charge = snapshot(auth.charge, processor=next_processor)
            routing = getattr(auth.intent, "routing", None)
            if routing is not None:
                tried = [dict(item) for item in routing.get("attempts", [])]
                if tried:
                    tried[-1]["outcome"] = final.get("decline_code") or final.get("error_code")
                    tried[-1]["status"] = final["status"]
                tried.append({"attempt": new_attempt_id, "processor": next_processor})
                routing = {**routing, "attempts": tried}
                await repository.update_intent(session, auth.intent.id, routing=routing)
                auth.intent = snapshot(auth.intent, routing=routing)
            return new_attempt

    async def _finish_unknown(self, ctx: WriteContext, intent_id: str, attempt_id: str) -> Response:
        async with self.database.transaction() as session:
            await repository.claim_attempt(
                session,
                attempt_id,
                {AttemptStatus.PENDING.value},
                status=AttemptStatus.UNKNOWN.value,
            )
            intent = await get_intent(session, ctx.merchant.merchant_id, intent_id)
            return await ctx.complete(session, 200, render_payment_intent(intent))

    async def _finish_unavailable(self, ctx: WriteContext, intent_id: str) -> Response:
        async with self.database.transaction() as session:
            intent = await get_intent(session, ctx.merchant.merchant_id, intent_id)
            intent = await self._back_to_confirmation(session, intent)
            error = ProcessorUnavailable(
                "No payment processor could be reached. Nothing was charged; confirm the "
                "PaymentIntent again later.",
                extra={"payment_intent": render_payment_intent(intent)},
            )
            return await ctx.complete(session, error.http_status, error.to_body())

    async def _back_to_confirmation(self, session: Session, intent: Any) -> Any:
        """Nothing happened at any processor: the intent may be confirmed again. Returns
        the intent as it now is."""
        check_transition(intent.status, IntentStatus.REQUIRES_CONFIRMATION)
        await repository.update_intent(
            session, intent.id, status=IntentStatus.REQUIRES_CONFIRMATION.value
        )
        if intent.latest_charge_id:
            await repository.update_charge(
                session,
                intent.latest_charge_id,
                status=ChargeStatus.FAILED.value,
                failure_code="processor_unavailable",
                failure_message="No payment processor could be reached.",
            )
        return snapshot(intent, status=IntentStatus.REQUIRES_CONFIRMATION.value)

    async def apply_authorization(
        self,
        session: Session,
        attempt: Any,
        result: AuthorizeResult | ProcessorRecord,
        ctx: WriteContext | None = None,
        *,
        intent: Any = None,
        charge: Any = None,
    ) -> tuple[int, dict[str, Any]]:
        """Apply a processor's authorization outcome to attempt, charge, intent, ledger and
        events. Returns the HTTP status and body the confirming request answers with.

        The confirming request passes the ``intent`` and ``charge`` it wrote in phase one
        (nothing else may change them while the attempt is open); the janitor and the
        3-D Secure page pass neither, and they are read here."""
        merchant_id = attempt.merchant_id
        if intent is None:
            intent = await get_intent(
                session, merchant_id, attempt.payment_intent_id, for_update=True
            )
        outcome = _outcome_of(result)
        events = EventBatch(merchant_id, ctx.idempotency_key if ctx else None)
        fee = result.fee
        captured_amount = (
            result.captured_amount
            if isinstance(result, AuthorizeResult)
            else (result.amount if attempt.capture else 0)
        )
        new_status = {
            AuthOutcome.APPROVED: AttemptStatus.SUCCEEDED,
            AuthOutcome.DECLINED: AttemptStatus.DECLINED,
            AuthOutcome.REQUIRES_ACTION: AttemptStatus.REQUIRES_ACTION,
        }[outcome]
        expected = OPEN_ATTEMPT | {AttemptStatus.REQUIRES_ACTION.value}
        if not await repository.claim_attempt(
            session,
            attempt.id,
            expected,
            status=new_status.value,
            processor_reference=result.processor_reference,
            decline_code=result.decline_code,
            error_code=result.error_code,
            fee=fee,
            finished_at=time.time(),
        ):
            # Someone else applied it first: answer with the intent as it now stands.
            current = await get_intent(session, merchant_id, attempt.payment_intent_id)
            return 200, render_payment_intent(current)
        charge_id = attempt.charge_id
        if charge is None:
            charge = await repository.get_charge(session, merchant_id, charge_id)
        if outcome is AuthOutcome.APPROVED:
            charge_values: dict[str, Any] = {
                "status": ChargeStatus.SUCCEEDED.value,
                "processor_reference": result.processor_reference,
                "outcome": _charge_outcome("authorized", None, getattr(intent, "risk", None)),
            }
            if attempt.capture:
                txn_id = await ledger.record_capture(
                    session,
                    merchant_id=merchant_id,
                    currency=attempt.currency,
                    amount=captured_amount,
                    fee=fee,
                    reference_id=charge_id,
                    available_on=now() + self.settings.settlement_delay_days * 86_400,
                    release_hold=0,
                )
                charge_values.update(
                    captured=True,
                    amount_captured=captured_amount,
                    fee=fee,
                    balance_transaction_id=txn_id,
                )
                intent_values: dict[str, Any] = {
                    "status": IntentStatus.SUCCEEDED.value,
                    "amount_received": captured_amount,
                    "amount_capturable": 0,
                    "next_action": None,
                }
            else:
                await ledger.record_authorization(
                    session,
                    merchant_id=merchant_id,
                    currency=attempt.currency,
                    amount=attempt.amount,
                    reference_id=charge_id,
                )
                intent_values = {
                    "status": IntentStatus.REQUIRES_CAPTURE.value,
                    "amount_capturable": attempt.amount,
                    "next_action": None,
                }
            check_transition(intent.status, IntentStatus(intent_values["status"]))
            await repository.update_charge(session, charge_id, **charge_values)
            await repository.update_intent(session, intent.id, **intent_values)
            charge = snapshot(charge, **charge_values)
            updated = snapshot(intent, **intent_values)
            events.add("charge.succeeded", render_charge(charge))
            if attempt.capture:
                events.add("charge.captured", render_charge(charge))
                events.add("payment_intent.succeeded", render_payment_intent(updated))
            else:
                events.add(
                    "payment_intent.amount_capturable_updated", render_payment_intent(updated)
                )
            await events.flush(session)
            body = render_payment_intent(updated)
            if ctx is None:
                await self._complete_recovered_keys(session, intent.id, 200, body)
            return 200, body
        if outcome is AuthOutcome.REQUIRES_ACTION:
            action_url = result.action_url if isinstance(result, AuthorizeResult) else None
            action_url = action_url or f"/sandbox/3ds/{result.processor_reference}"
            check_transition(intent.status, IntentStatus.REQUIRES_ACTION)
            await repository.update_charge(
                session, charge_id, processor_reference=result.processor_reference
            )
            action_values = {
                "status": IntentStatus.REQUIRES_ACTION.value,
                "next_action": {
                    "type": "redirect_to_url",
                    "redirect_to_url": {"url": action_url, "return_url": intent.return_url},
                },
            }
            await repository.update_intent(session, intent.id, **action_values)
            updated = snapshot(intent, **action_values)
            events.add("payment_intent.requires_action", render_payment_intent(updated))
            await events.flush(session)
            body = render_payment_intent(updated)
            if ctx is None:
                await self._complete_recovered_keys(session, intent.id, 200, body)
            return 200, body
        # Declined.
        code = result.error_code or "card_declined"
        message = (
            result.message if isinstance(result, AuthorizeResult) and result.message else None
        ) or _decline_message(code, result.decline_code)
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": result.decline_code,
            "message": message,
            "charge": charge_id,
            "payment_method": {"id": intent.payment_method_id, "object": "payment_method"},
        }
        check_transition(intent.status, IntentStatus.REQUIRES_PAYMENT_METHOD)
        failed_charge = {
            "status": ChargeStatus.FAILED.value,
            "failure_code": code,
            "failure_message": message,
            "processor_reference": result.processor_reference,
            "outcome": _charge_outcome(
                "issuer_declined", result.decline_code, getattr(intent, "risk", None)
            ),
        }
        declined_intent = {
            "status": IntentStatus.REQUIRES_PAYMENT_METHOD.value,
            "last_payment_error": error,
            "next_action": None,
        }
        await repository.update_charge(session, charge_id, **failed_charge)
        await repository.update_intent(session, intent.id, **declined_intent)
        charge = snapshot(charge, **failed_charge)
        updated = snapshot(intent, **declined_intent)
        events.add("charge.failed", render_charge(charge))
        events.add("payment_intent.payment_failed", render_payment_intent(updated))
        await events.flush(session)
        card_error = CardError(
            message,
            code=code,
            decline_code=result.decline_code,
            extra={"charge": charge_id, "payment_intent": render_payment_intent(updated)},
        )
        body = card_error.to_body()
        if ctx is None:
            await self._complete_recovered_keys(session, intent.id, card_error.http_status, body)
        return card_error.http_status, body

    async def _complete_recovered_keys(
        self, session: Session, resource_id: str, status: int, body: dict[str, Any]
    ) -> None:
        """Keys left in progress on this object by a request that died (or is waiting)
        get this outcome as their answer."""
        await idempotency.complete_for_resource(
            session, resource_id=resource_id, status=status, body=json_bytes(body)
        )

    # ----------------------------------------------------------------- 3-D Secure

    async def complete_challenge(self, processor_reference: str, succeed: bool) -> Any:
        """The customer finished (or failed) a 3-D Secure challenge at the processor.
        Returns the intent as it stands afterwards."""
        async with self.database.transaction() as session:
            attempt = await repository.find_attempt_by_reference(
                session, processor_reference, "authorize"
            )
        if attempt is None:
            raise ResourceMissing(
                f"No authorization is waiting on challenge {processor_reference!r}."
            )
        connector = self.connectors.get(attempt.processor)
        complete = getattr(connector, "complete_challenge", None)
        if complete is None:
            raise InvalidRequest(f"Processor {attempt.processor} has no test challenge page.")
        record: ProcessorRecord = await complete(processor_reference, succeed)
        async with self.database.transaction() as session:
            if attempt.status == AttemptStatus.REQUIRES_ACTION.value:
                await self.apply_authorization(session, attempt, record)
            return await get_intent(session, attempt.merchant_id, attempt.payment_intent_id)

    # ----------------------------------------------------------------- capture

    async def capture(
        self, ctx: WriteContext, intent_id: str, params: PaymentIntentCapture
    ) -> Response:
        merchant_id = ctx.merchant.merchant_id

        async def attempt() -> Response:
            async with self.database.transaction() as session:
                claimed = await self._claim_and_lock(session, ctx, intent_id)
                if isinstance(claimed, Response):
                    return claimed
                intent = claimed
                if intent.status != IntentStatus.REQUIRES_CAPTURE:
                    raise InvalidState(
                        "This PaymentIntent could not be captured because it has a status of "
                        f"{intent.status}. Only a PaymentIntent with status requires_capture "
                        "can be captured.",
                        extra={"payment_intent": render_payment_intent(intent)},
                    )
                if await repository.has_open_attempt(session, intent.id, "capture"):
                    raise InvalidState("A capture of this PaymentIntent is already in progress.")
                await ensure_not_held(session, intent)
                amount = params.amount_to_capture
                if amount is None:
                    amount = intent.amount_capturable
                check_amount(amount, param="amount_to_capture")
                if amount > intent.amount_capturable:
                    raise InvalidRequest(
                        f"The amount to capture ({amount}) is greater than the amount "
                        f"capturable ({intent.amount_capturable}).",
                        param="amount_to_capture",
                        code="amount_too_large",
                    )
                authorization = await repository.successful_authorization(session, intent.id)
                assert authorization is not None, "requires_capture implies an authorization"
                capture_id = new_id("att")
                await repository.insert_attempt(
                    session,
                    id=capture_id,
                    merchant_id=merchant_id,
                    payment_intent_id=intent.id,
                    charge_id=authorization.charge_id,
                    operation="capture",
                    processor=authorization.processor,
                    idempotency_key=f"{authorization.id}:capture",
                    amount=amount,
                    currency=intent.currency,
                    capture=True,
                    status=AttemptStatus.PENDING.value,
                    fee=0,
                    started_at=time.time(),
                )
                await ctx.attach(session, intent.id)
                if params.metadata is not None:
                    await repository.update_intent(
                        session,
                        intent.id,
                        metadata=merge_metadata(intent.metadata, params.metadata),
                    )
                reference = authorization.processor_reference
                processor = authorization.processor
            connector = self.connectors.get(processor)
            try:
                result = await self._call_processor(
                    processor,
                    "capture",
                    connector.capture(reference, amount, f"{authorization.id}:capture"),
                )
            except (OutcomeUnknown, TimeoutError):
                await self._mark_unknown(capture_id)
                raise OutcomeUnknown(
                    "The processor did not answer the capture in time. SmartPay will resolve "
                    "it automatically; retrying this request is safe."
                ) from None
            except ProcessorUnavailable:
                await self._mark_failed(capture_id)
                await ctx.release()
                raise
            async with self.database.transaction() as session:
                capture_attempt = await repository.get_attempt(session, capture_id)
                status, body = await self.apply_capture(session, capture_attempt, result)
                return await ctx.complete(session, status, body)

        return await ctx.retrying_conflicts(attempt)

    async def apply_capture(
        self, session: Session, attempt: Any, result: OperationResult | ProcessorRecord
    ) -> tuple[int, dict[str, Any]]:
        merchant_id = attempt.merchant_id
        intent = await get_intent(session, merchant_id, attempt.payment_intent_id, for_update=True)
        succeeded = _succeeded(result)
        if not await repository.claim_attempt(
            session,
            attempt.id,
            OPEN_ATTEMPT,
            status=(AttemptStatus.SUCCEEDED if succeeded else AttemptStatus.FAILED).value,
            processor_reference=result.processor_reference,
            fee=result.fee,
            error_code=None if succeeded else _failure_code(result),
            finished_at=time.time(),
        ):
            return 200, render_payment_intent(intent)
        if not succeeded:
            error = InvalidRequest(
                f"The processor refused the capture: {_failure_code(result)}.",
                code=_failure_code(result),
            )
            return error.http_status, error.to_body()
        amount = attempt.amount
        txn_id = await ledger.record_capture(
            session,
            merchant_id=merchant_id,
            currency=attempt.currency,
            amount=amount,
            fee=result.fee,
            reference_id=attempt.charge_id,
            available_on=now() + self.settings.settlement_delay_days * 86_400,
            release_hold=intent.amount_capturable,
        )
        await repository.update_charge(
            session,
            attempt.charge_id,
            captured=True,
            amount_captured=amount,
            fee=result.fee,
            balance_transaction_id=txn_id,
        )
        check_transition(intent.status, IntentStatus.SUCCEEDED)
        await repository.update_intent(
            session,
            intent.id,
            status=IntentStatus.SUCCEEDED.value,
            amount_received=amount,
            amount_capturable=0,
        )
        charge = await repository.get_charge(session, merchant_id, attempt.charge_id)
        updated = await get_intent(session, merchant_id, intent.id)
        events = EventBatch(merchant_id)
        events.add("charge.captured", render_charge(charge))
        events.add("payment_intent.succeeded", render_payment_intent(updated))
        await events.flush(session)
        body = render_payment_intent(updated)
        await self._complete_recovered_keys(session, intent.id, 200, body)
        return 200, body

    # ----------------------------------------------------------------- cancel

    async def cancel(
        self, ctx: WriteContext, intent_id: str, params: PaymentIntentCancel
    ) -> Response:
        merchant_id = ctx.merchant.merchant_id

        async def attempt() -> Response:
            async with self.database.transaction() as session:
                claimed = await self._claim_and_lock(session, ctx, intent_id)
                if isinstance(claimed, Response):
                    return claimed
                intent = claimed
                cancellable = {
                    IntentStatus.REQUIRES_PAYMENT_METHOD,
                    IntentStatus.REQUIRES_CONFIRMATION,
                    IntentStatus.REQUIRES_ACTION,
                    IntentStatus.REQUIRES_CAPTURE,
                }
                if intent.status not in cancellable:
                    raise InvalidState(
                        "You cannot cancel this PaymentIntent because it has a status of "
                        f"{intent.status}.",
                        extra={"payment_intent": render_payment_intent(intent)},
                    )
                authorization = None
                if intent.status == IntentStatus.REQUIRES_CAPTURE:
                    if await repository.has_open_attempt(session, intent.id, "capture"):
                        raise InvalidState("A capture of this PaymentIntent is in progress.")
                    authorization = await repository.successful_authorization(session, intent.id)
                if authorization is None:
                    body = await self._mark_canceled(session, intent, params, release=0)
                    return await ctx.complete(session, 200, body)
            connector = self.connectors.get(authorization.processor)
            # A void is safe to repeat: its key is derived from the authorization. If the
            # processor fails or does not answer, the hold stays and a retry voids again.
            try:
                await self._call_processor(
                    authorization.processor,
                    "void",
                    connector.void(authorization.processor_reference, f"{authorization.id}:void"),
                )
            except (ProcessorUnavailable, OutcomeUnknown, TimeoutError):
                await ctx.release()
                raise ProcessorUnavailable(
                    "The processor did not confirm the release of the authorization. The "
                    "PaymentIntent is still requires_capture; retrying the cancel is safe."
                ) from None
            async with self.database.transaction() as session:
                intent = await get_intent(session, merchant_id, intent_id, for_update=True)
                if intent.status == IntentStatus.CANCELED:
                    return await ctx.complete(session, 200, render_payment_intent(intent))
                body = await self._mark_canceled(
                    session, intent, params, release=intent.amount_capturable
                )
                return await ctx.complete(session, 200, body)

        return await ctx.retrying_conflicts(attempt)

    async def _mark_canceled(
        self, session: Session, intent: Any, params: PaymentIntentCancel, release: int
    ) -> dict[str, Any]:
        check_transition(intent.status, IntentStatus.CANCELED)
        if release:
            await ledger.release_authorization(
                session,
                merchant_id=intent.merchant_id,
                currency=intent.currency,
                amount=release,
                reference_id=intent.latest_charge_id,
            )
        await repository.update_intent(
            session,
            intent.id,
            status=IntentStatus.CANCELED.value,
            canceled_at=now(),
            cancellation_reason=params.cancellation_reason,
            amount_capturable=0,
            next_action=None,
        )
        updated = await get_intent(session, intent.merchant_id, intent.id)
        events = EventBatch(intent.merchant_id)
        events.add("payment_intent.canceled", render_payment_intent(updated))
        await events.flush(session)
        return render_payment_intent(updated)

    # ----------------------------------------------------------------- refunds

    async def refund(self, ctx: WriteContext, params: RefundCreate) -> Response:
        merchant_id = ctx.merchant.merchant_id

        async def attempt() -> Response:
            async with self.database.transaction() as session:
                replay = await ctx.claim(session)
                if replay is not None:
                    return replay
                charge = await self._refundable_charge(session, merchant_id, params)
                already = charge.amount_refunded + await repository.pending_refund_total(
                    session, charge.id
                )
                remaining = charge.amount_captured - already
                amount = params.amount if params.amount is not None else remaining
                check_amount(amount, param="amount")
                if amount > remaining:
                    raise InvalidRequest(
                        f"Refund amount ({amount}) is greater than the unrefunded amount on "
                        f"charge ({remaining}).",
                        param="amount",
                        code="amount_too_large",
                    )
                refund_id = new_id("re")
                await repository.insert_refund(
                    session,
                    id=refund_id,
                    merchant_id=merchant_id,
                    charge_id=charge.id,
                    payment_intent_id=charge.payment_intent_id,
                    amount=amount,
                    currency=charge.currency,
                    status=RefundStatus.PENDING.value,
                    reason=params.reason,
                    metadata=merge_metadata({}, params.metadata),
                    created=now(),
                )
                await repository.insert_attempt(
                    session,
                    id=refund_id,
                    merchant_id=merchant_id,
                    payment_intent_id=charge.payment_intent_id,
                    charge_id=charge.id,
                    operation="refund",
                    processor=charge.processor,
                    idempotency_key=refund_id,
                    amount=amount,
                    currency=charge.currency,
                    capture=False,
                    status=AttemptStatus.PENDING.value,
                    fee=0,
                    started_at=time.time(),
                )
                await ctx.attach(session, refund_id)
                processor, reference = charge.processor, charge.processor_reference
            connector = self.connectors.get(processor)
            try:
                result = await self._call_processor(
                    processor, "refund", connector.refund(reference, amount, refund_id)
                )
            except (OutcomeUnknown, TimeoutError):
                await self._mark_unknown(refund_id)
                async with self.database.transaction() as session:
                    row = await repository.get_refund(session, merchant_id, refund_id)
                    return await ctx.complete(session, 200, render_refund(row))
            except ProcessorUnavailable:
                await ctx.release()
                async with self.database.transaction() as session:
                    await self._mark_failed(refund_id, session=session)
                    await repository.update_refund(
                        session,
                        refund_id,
                        status=RefundStatus.FAILED.value,
                        failure_reason="processor_unavailable",
                    )
                raise
            async with self.database.transaction() as session:
                refund_attempt = await repository.get_attempt(session, refund_id)
                status, body = await self.apply_refund(session, refund_attempt, result)
                return await ctx.complete(session, status, body)

        return await ctx.retrying_conflicts(attempt)

    async def _refundable_charge(
        self, session: Session, merchant_id: str, params: RefundCreate
    ) -> Any:
        if params.charge is None and params.payment_intent is None:
            raise MissingParameter(
                "Missing required param: charge or payment_intent.", param="charge"
            )
        charge_id = params.charge
        if charge_id is None:
            assert params.payment_intent is not None
            intent = await get_intent(session, merchant_id, params.payment_intent)
            if intent.status != IntentStatus.SUCCEEDED or intent.latest_charge_id is None:
                raise InvalidState(
                    "This PaymentIntent does not have a successful charge to refund.",
                    param="payment_intent",
                )
            charge_id = intent.latest_charge_id
        charge = await repository.get_charge(session, merchant_id, charge_id, for_update=True)
        if charge is None:
            raise ResourceMissing(f"No such charge: '{charge_id}'", param="charge")
        if not charge.captured:
            raise InvalidState(
                "This charge has not been captured, so it cannot be refunded. Cancel the "
                "PaymentIntent to release the authorization instead.",
                param="charge",
                code="charge_not_refundable",
            )
        if charge.processor == ACH_PROCESSOR:
            raise InvalidRequest(
                "Refunds of ACH Direct Debit payments are not supported yet: send the money "
                "back with POST /v1/payouts to the customer's us_bank_account.",
                param="charge",
                code="charge_not_refundable",
            )
        return charge

    async def apply_refund(
        self, session: Session, attempt: Any, result: OperationResult | ProcessorRecord
    ) -> tuple[int, dict[str, Any]]:
        merchant_id = attempt.merchant_id
        succeeded = _succeeded(result)
        if not await repository.claim_attempt(
            session,
            attempt.id,
            OPEN_ATTEMPT,
            status=(AttemptStatus.SUCCEEDED if succeeded else AttemptStatus.FAILED).value,
            processor_reference=result.processor_reference,
            error_code=None if succeeded else _failure_code(result),
            finished_at=time.time(),
        ):
            row = await repository.get_refund(session, merchant_id, attempt.id)
            return 200, render_refund(row)
        events = EventBatch(merchant_id)
        if succeeded:
            txn_id = await ledger.record_refund(
                session,
                merchant_id=merchant_id,
                currency=attempt.currency,
                amount=attempt.amount,
                reference_id=attempt.id,
            )
            await repository.update_refund(
                session,
                attempt.id,
                status=RefundStatus.SUCCEEDED.value,
                processor_reference=result.processor_reference,
                balance_transaction_id=txn_id,
            )
            await repository.add_refunded_amount(session, attempt.charge_id, attempt.amount)
            charge = await repository.get_charge(session, merchant_id, attempt.charge_id)
            events.add("charge.refunded", render_charge(charge))
        else:
            await repository.update_refund(
                session,
                attempt.id,
                status=RefundStatus.FAILED.value,
                failure_reason=_failure_code(result),
            )
        row = await repository.get_refund(session, merchant_id, attempt.id)
        events.add("refund.created" if succeeded else "refund.failed", render_refund(row))
        await events.flush(session)
        body = render_refund(row)
        await self._complete_recovered_keys(session, attempt.id, 200, body)
        return 200, body

    # ----------------------------------------------------------------- janitor

    async def _mark_unknown(self, attempt_id: str) -> None:
        async with self.database.transaction() as session:
            await repository.claim_attempt(
                session,
                attempt_id,
                {AttemptStatus.PENDING.value},
                status=AttemptStatus.UNKNOWN.value,
            )

    async def _mark_failed(self, attempt_id: str, session: Session | None = None) -> None:
        if session is None:
            async with self.database.transaction() as own_session:
                await self._mark_failed(attempt_id, own_session)
            return
        await repository.claim_attempt(
            session,
            attempt_id,
            OPEN_ATTEMPT,
            status=AttemptStatus.FAILED.value,
            error_code="processor_unavailable",
            finished_at=time.time(),
        )

    async def resolve_open_attempts(self, *, now: float | None = None) -> int:
        """Ask the processor about every attempt left pending or unknown, and apply what
        it says. An attempt the processor never saw failed: nothing happened there.
        ``now`` (unix seconds) is for tests that need pending attempts to look old."""
        current = time.time() if now is None else now
        cutoff = current - self.settings.processor_timeout_seconds - PENDING_GRACE_SECONDS
        async with self.database.transaction() as session:
            open_attempts = await repository.attempts_to_resolve(session, cutoff, JANITOR_BATCH)
        resolved = 0
        for attempt in open_attempts:
            try:
                record = await self.connectors.get(attempt.processor).lookup(
                    attempt.idempotency_key
                )
            except (ProcessorUnavailable, OutcomeUnknown, TimeoutError):
                continue  # ask again on the next round
            async with self.database.transaction() as session:
                await self._resolve_one(session, attempt, record)
            resolved += 1
        return resolved

    async def _resolve_one(
        self, session: Session, attempt: Any, record: ProcessorRecord | None
    ) -> None:
        if record is not None and record.status in (
            RecordStatus.APPROVED,
            RecordStatus.DECLINED,
            RecordStatus.PENDING_ACTION,
            RecordStatus.SUCCEEDED,
            RecordStatus.FAILED,
        ):
            if attempt.operation == "authorize":
                await self.apply_authorization(session, attempt, record)
            elif attempt.operation == "capture":
                await self.apply_capture(session, attempt, record)
            elif attempt.operation == "refund":
                await self.apply_refund(session, attempt, record)
            return
        # The processor never saw it: the attempt failed and nothing moved.
        if not await repository.claim_attempt(
            session,
            attempt.id,
            OPEN_ATTEMPT,
            status=AttemptStatus.FAILED.value,
            error_code="not_received_by_processor",
            finished_at=time.time(),
        ):
            return
        intent = await get_intent(
            session, attempt.merchant_id, attempt.payment_intent_id, for_update=True
        )
        if attempt.operation == "authorize" and intent.status == IntentStatus.PROCESSING:
            updated = await self._back_to_confirmation(session, intent)
            await self._complete_recovered_keys(
                session, intent.id, 200, render_payment_intent(updated)
            )
        elif attempt.operation == "refund":
            await repository.update_refund(
                session,
                attempt.id,
                status=RefundStatus.FAILED.value,
                failure_reason="not_received_by_processor",
            )


def _observation(result: AuthorizeResult) -> Observation:
    """What an answered authorization says about its processor."""
    if result.outcome is AuthOutcome.APPROVED:
        return Observation(OutcomeKind.APPROVED)
    if result.outcome is AuthOutcome.REQUIRES_ACTION:
        return Observation(OutcomeKind.CHALLENGE)
    code = result.decline_code or result.error_code
    return Observation(classify_decline(result.decline_code, result.error_code), code)


def _outcome_of(result: AuthorizeResult | ProcessorRecord) -> AuthOutcome:
    if isinstance(result, AuthorizeResult):
        return result.outcome
    return {
        RecordStatus.APPROVED: AuthOutcome.APPROVED,
        RecordStatus.SUCCEEDED: AuthOutcome.APPROVED,
        RecordStatus.DECLINED: AuthOutcome.DECLINED,
        RecordStatus.FAILED: AuthOutcome.DECLINED,
        RecordStatus.PENDING_ACTION: AuthOutcome.REQUIRES_ACTION,
    }[result.status]


def _succeeded(result: OperationResult | ProcessorRecord) -> bool:
    if isinstance(result, OperationResult):
        return result.status is OperationStatus.SUCCEEDED
    return result.status in (RecordStatus.SUCCEEDED, RecordStatus.APPROVED)


def _failure_code(result: OperationResult | ProcessorRecord) -> str:
    if isinstance(result, OperationResult):
        return result.failure_code or "processor_declined"
    return result.error_code or "processor_declined"


def _charge_outcome(
    kind: str, decline_code: str | None, risk: dict[str, Any] | None = None
) -> dict[str, Any]:
    approved = kind == "authorized"
    return {
        "network_status": "approved_by_network" if approved else "declined_by_network",
        "reason": decline_code,
        **stripe_outcome_fields(risk),
        "seller_message": "Payment complete." if approved else "The bank declined the payment.",
        "type": kind,
    }


_DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card has been declined.",
    "stolen_card": "Your card has been declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "fraudulent": "Your card has been declined.",
    "payment_intent_authentication_failure": (
        "We are unable to authenticate your payment method. Please choose a different "
        "payment method and try again."
    ),
}


def _decline_message(code: str, decline_code: str | None) -> str:
    return _DECLINE_MESSAGES.get(code) or _DECLINE_MESSAGES.get(
        decline_code or "", "Your card was declined."
    )
