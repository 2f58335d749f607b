"""HTTP plumbing shared by every domain's endpoints: Stripe-style request bodies (form or
JSON) validated into Pydantic models, query parameters the same way, errors rendered in
Stripe's shape, and the OpenAPI description of form/JSON bodies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartpay.errors import InvalidRequest, MissingParameter, PayloadTooLarge, SmartPayError
from smartpay.kit.forms import decode_form, decode_pairs
from smartpay.kit.redaction import redact_pan

logger = logging.getLogger("smartpay.api")

ModelT = TypeVar("ModelT", bound=BaseModel)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


class StripeJSONResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content)


async def read_body_bytes(request: Request, max_bytes: int) -> bytes:
    """The raw request body; ``PayloadTooLarge`` as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    return bytes(body)


async def read_body_params(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request's parameters from a form or JSON body (empty body: no parameters)."""
    body = await read_body_bytes(request, max_bytes)
    if not body.strip():
        return {}
    content_type = request.headers.get("content-type", FORM_CONTENT_TYPE).split(";")[0].strip()
    if content_type == JSON_CONTENT_TYPE:
        try:
            parsed = orjson.loads(bytes(body))
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(
                "The request body is not valid JSON.", code="parameter_invalid"
            ) from exc
        if not isinstance(parsed, dict):
            raise InvalidRequest("The JSON request body must be an object.")
        return parsed
    if content_type in (FORM_CONTENT_TYPE, "", "text/plain"):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequest("The request body is not valid UTF-8.") from exc
        return decode_form(text)
    raise InvalidRequest(
        f"Unsupported Content-Type {content_type[:80]!r}: send {FORM_CONTENT_TYPE} or "
        f"{JSON_CONTENT_TYPE}.",
        code="parameter_invalid",
    )


async def cached_body_params(request: Request) -> dict[str, Any]:
    """The body's parameters, read once per request (auth and idempotency need them too)."""
    cached: dict[str, Any] | None = getattr(request.state, "params", None)
    if cached is None:
        cached = await read_body_params(request, request.app.state.settings.max_body_bytes)
        reject_nul_characters(cached)
        request.state.params = cached
    return cached


def query_params(request: Request) -> dict[str, Any]:
    return decode_pairs(list(request.query_params.multi_items()))


def reject_nul_characters(value: Any, name: str = "") -> None:
    """Refuse NUL characters anywhere in the parameters: no database stores them in text,
    and no legitimate Stripe parameter contains one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidRequest(
                f"Invalid {name or 'parameter'}: contains a NUL character.", param=name or None
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{name}[{key}]" if name else str(key)
            if "\x00" in str(key):
                raise InvalidRequest("Parameter names cannot contain NUL characters.")
            reject_nul_characters(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            reject_nul_characters(item, f"{name}[{index}]")


def validate_params(model: type[ModelT], params: dict[str, Any]) -> ModelT:
    """Validate decoded parameters, turning the first problem into a 400 with ``param``."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise _as_invalid_request(exc.errors()) from None


def _as_invalid_request(errors: Any) -> InvalidRequest:
    first = errors[0]
    param = stripe_param_name(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "missing":
        return MissingParameter(f"Missing required param: {param}.", param=param)
    if kind == "extra_forbidden":
        return InvalidRequest(
            f"Received unknown parameter: {param}.", param=param, code="parameter_unknown"
        )
    detail = redact_pan(str(first.get("msg", "is invalid")))
    return InvalidRequest(f"Invalid {param}: {detail}.", param=param)


def stripe_param_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]
    if not parts:
        return ""
    return parts[0] + "".join(f"[{part}]" for part in parts[1:])


def body_of(model: type[ModelT]) -> Callable[[Request], Awaitable[ModelT]]:
    """A dependency reading the body (form or JSON) into ``model``."""

    async def dependency(request: Request) -> ModelT:
        return validate_params(model, await cached_body_params(request))

    dependency.__name__ = f"body_{model.__name__}"
    return dependency


def query_of(model: type[ModelT]) -> Callable[[Request], ModelT]:
    """A dependency reading bracket-nested query parameters into ``model``."""

    def dependency(request: Request) -> ModelT:
        params = query_params(request)
        reject_nul_characters(params)
        return validate_params(model, params)

    dependency.__name__ = f"query_{model.__name__}"
    return dependency


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` describing a form or JSON body of ``model``."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": False,
            "content": {JSON_CONTENT_TYPE: {"schema": ref}, FORM_CONTENT_TYPE: {"schema": ref}},
        },
        "x-body-model": model.__name__,
    }


def query_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` listing ``model``'s flat fields as query parameters."""
    parameters = []
    for name, field in model.model_fields.items():
        schema = field.annotation
        kind = "integer" if schema in (int, int | None) else "string"
        parameters.append(
            {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
        )
    return {"parameters": parameters}


def install_openapi(app: FastAPI, body_models: list[type[BaseModel]]) -> None:
    """Register body models as components so ``body_doc`` references resolve."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in body_models:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components[model.__name__] = model_schema
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict):
                    operation.pop("x-body-model", None)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


class RejectNulInPath:
    """ASGI middleware: a path with a NUL character (``%00``) is a 400 before any route
    sees it, so no id containing one reaches the database."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "\x00" in scope.get("path", ""):
            error = InvalidRequest("The request path contains a NUL character.")
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def error_response(error: SmartPayError) -> Response:
    return StripeJSONResponse(error.to_body(), status_code=error.http_status)


def install_error_handlers(app: FastAPI) -> None:
    async def on_smartpay_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SmartPayError)
        return error_response(exc)

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(_as_invalid_request(exc.errors()))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error: SmartPayError = InvalidRequest(
                f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
                "/docs for the API reference.",
                code="resource_missing",
            )
            return StripeJSONResponse(error.to_body(), status_code=404)
        if exc.status_code == 405:
            error = InvalidRequest(
                f"Method {request.method} is not allowed on {request.url.path}.",
                code="method_not_allowed",
            )
            return StripeJSONResponse(error.to_body(), status_code=405)
        error = InvalidRequest(str(exc.detail))
        return StripeJSONResponse(error.to_body(), status_code=exc.status_code)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.error(
            "unhandled error on %s %s: %s",
            request.method,
            request.url.path,
            redact_pan(repr(exc)),
        )
        body = {"error": {"type": "api_error", "message": "An internal error occurred."}}
        return StripeJSONResponse(body, status_code=500)

    app.add_exception_handler(SmartPayError, on_smartpay_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
