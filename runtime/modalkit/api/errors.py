"""Every error the API returns: one table from exception family to status code, JSON bodies only."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modalkit import errors
from modalkit.logs import get_logger

log = get_logger(__name__)

STATUS_OF: tuple[tuple[type[errors.ModalkitError], int, str], ...] = (
    (errors.Unauthorized, 401, "unauthorized"),
    (errors.JobNotFound, 404, "not_found"),
    (errors.IdempotencyConflict, 409, "idempotency_conflict"),
    (errors.JobConflict, 409, "conflict"),
    (errors.PayloadTooLarge, 413, "payload_too_large"),
    (errors.BackendUnavailable, 503, "backend_unavailable"),
)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"detail": message, "code": code, **{k: v for k, v in extra.items() if v is not None}}


def _modalkit_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ModalkitError)
    for family, status, code in STATUS_OF:
        if isinstance(exc, family):
            headers = {"Retry-After": "1"} if status == 503 else None
            if status == 401:
                headers = {"WWW-Authenticate": "ApiKey"}
            return JSONResponse(
                error_body(code, exc.message, job_id=exc.context.get("job_id")), status, headers=headers
            )
    return _unexpected(request, exc)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems)
    return JSONResponse(
        {"detail": problems, "code": "validation_error", "message": f"invalid request: {summary}"}, 422
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return JSONResponse(
        error_body("internal_error", "internal error; the server log has the details"), status_code=500
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ModalkitError, _modalkit_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
