"""Report routes: ``GET /v1/reports/summary`` (every section) and one route per section,
``GET /v1/reports/<section>``. ``/v1/reports/costs`` is the cost monitor's own route
(ach.endpoints); the summary includes the same figures under ``costs``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, SettingsDep, ok
from smartpay.kit.api import query_doc, query_of
from smartpay.reports import service
from smartpay.reports.schemas import ReportQuery

router = APIRouter(tags=["reports"])

ReportParams = Annotated[ReportQuery, Depends(query_of(ReportQuery))]
# Served elsewhere under the same path (see the module docstring).
SECTIONS_ROUTED_ELSEWHERE = frozenset({"costs"})


@router.get("/v1/reports/summary", openapi_extra=query_doc(ReportQuery))
async def summary(
    merchant: SecretAuth, db: DatabaseDep, settings: SettingsDep, params: ReportParams
) -> Response:
    """Every report section for the period."""
    period = params.period()
    async with db.transaction() as session:
        body = await service.build(session, merchant.merchant_id, period, settings)
    return ok(body)


def _add_section_route(name: str) -> None:
    async def section(
        merchant: SecretAuth, db: DatabaseDep, settings: SettingsDep, params: ReportParams
    ) -> Response:
        period = params.period()
        async with db.transaction() as session:
            body = await service.build(session, merchant.merchant_id, period, settings, [name])
        return ok(body)

    section.__name__ = f"report_{name}"
    section.__doc__ = service.SECTIONS[name].__doc__
    router.add_api_route(
        f"/v1/reports/{name}",
        section,
        methods=["GET"],
        name=f"report_{name}",
        openapi_extra=query_doc(ReportQuery),
    )


for _name in service.SECTIONS:
    if _name not in SECTIONS_ROUTED_ELSEWHERE:
        _add_section_route(_name)
