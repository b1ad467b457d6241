"""The ASGI application: the public API of :class:`~mediation_flow.Engine` over HTTP.

``create_app(engine, authenticator=...)`` returns a FastAPI application; ``mediation-flow
serve`` runs it with uvicorn. Every endpoint acts as the actor the authenticator names
(:mod:`mediation_flow.server.auth`), so the engine's policy decides what each caller may do;
errors are problem details (:mod:`mediation_flow.server.problems`); bodies larger than
``max_body`` bytes are refused with 413 before they are read. The OpenAPI document is at
``/openapi.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import date
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mediation_flow.engine import Engine
from mediation_flow.errors import MediationFlowError, PermissionDenied
from mediation_flow.flow.data import to_json
from mediation_flow.logging import get_logger
from mediation_flow.models import Actor, Intake, Role
from mediation_flow.server.auth import Authenticator, Unauthenticated
from mediation_flow.server.problems import problem
from mediation_flow.server.schemas import (
    CaseOut,
    DeadlineOut,
    DocumentIn,
    EventOut,
    EventsPage,
    FireIn,
    HandoffExportIn,
    HandoffResultOut,
    Problem,
)

__all__ = ["DEFAULT_MAX_BODY", "create_app"]

#: The largest request body accepted by default (bytes): a handoff package of a long case
#: fits; anything larger is refused with 413 before it is read.
DEFAULT_MAX_BODY = 2 * 1024 * 1024

_PROBLEM = "application/problem+json"
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {_PROBLEM: {}}, "description": text}
    for status, text in (
        (401, "Not authenticated"),
        (403, "Not allowed (permission-denied)"),
        (404, "No such case"),
        (409, "Refused by the case's state, a guard, a concurrent change or a key reuse"),
        (413, "Request body too large"),
        (422, "Invalid input (invalid-data, invalid-intake, request-validation...)"),
        (503, "Database busy or unavailable; retry"),
    )
}
_CaseId = Annotated[int, Path(description="The case id")]
_IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retried request safe: the same key (per caller) with the same "
        "request applies once and returns the stored result.",
    ),
]
_OFFICIALS = (Role.intake_officer, Role.arbitrator, Role.judge)


def _caller(request: Request) -> Actor:
    """The actor the application's authenticator names for the request (401 if none)."""
    try:
        found = request.app.state.authenticator.authenticate(request)
    except Unauthenticated:
        found = None
    if not isinstance(found, Actor):
        raise Unauthenticated
    return found


Caller = Annotated[Actor, Depends(_caller)]


def _problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(body), status_code=body["status"], media_type=_PROBLEM, headers=headers
    )


class _BodyLimit:
    """Refuse bodies over ``limit`` bytes (413): by Content-Length before reading, and while
    reading a body sent without one."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = {
            "type": "urn:mediation-flow:problem:request-too-large",
            "title": "Request too large",
            "status": 413,
            "detail": f"the request body is larger than {self.limit} bytes",
            "error": "RequestTooLarge",
        }
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await _problem_response(too_large)(scope, receive, send)
                    return
        # Read the body here, up to the limit, then hand it on: a body sent without a length
        # is refused as soon as it passes the limit, and the application never sees it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _problem_response(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(
    engine: Engine,
    *,
    authenticator: Authenticator,
    max_body: int = DEFAULT_MAX_BODY,
    title: str = "mediation_flow",
) -> Any:
    """The HTTP service of ``engine``. ``authenticator`` is required (there is no default
    that trusts a header)."""
    if authenticator is None or not callable(getattr(authenticator, "authenticate", None)):
        raise ValueError(
            "an authenticator is required: HmacTokenAuthenticator(secret) or the host's own "
            "(an object with authenticate(request) -> Actor | None)"
        )
    log = get_logger()
    app = FastAPI(
        title=title,
        description="The labour-dispute five-mediation linkage (五调联动) as a service. Errors "
        "are RFC 9457 problem details with a stable type per error class.",
        version=_version(),
        responses=_ERRORS,
    )

    app.state.authenticator = authenticator

    @app.exception_handler(MediationFlowError)
    async def _flow_error(request: Request, exc: MediationFlowError) -> JSONResponse:
        body = problem(exc)
        headers = {"Retry-After": "1"} if body["status"] == 503 else None
        return _problem_response(body, headers)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return _problem_response(
            {
                "type": "urn:mediation-flow:problem:unauthenticated",
                "title": "Unauthenticated",
                "status": 401,
                "detail": "no valid credentials: send the token or session your deployment "
                "uses (Authorization: Bearer <token> with the built-in authenticator)",
                "error": "Unauthenticated",
            },
            {"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        return _problem_response(
            {
                "type": "urn:mediation-flow:problem:request-validation",
                "title": "Request validation",
                "status": 422,
                "detail": f"{'.'.join(first['loc'])}: {first['msg']}",
                "error": "RequestValidation",
                "errors": errors,
            }
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem_response(
            {
                "type": f"urn:mediation-flow:problem:http-{exc.status_code}",
                "title": str(exc.detail),
                "status": exc.status_code,
                "detail": str(exc.detail),
                "error": "HTTPError",
            }
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request_failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        return _problem_response(
            {
                "type": "urn:mediation-flow:problem:internal",
                "title": "Internal error",
                "status": 500,
                "detail": "an unexpected error; it was logged",
                "error": "Internal",
            }
        )

    # -- health -----------------------------------------------------------------------------------

    @app.get("/health", tags=["health"], summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["health"], summary="Readiness: the database answers")
    def ready() -> dict[str, str]:
        engine.cases(limit=1)  # DatabaseUnavailable / SchemaMismatch -> 503
        return {"status": "ready"}

    # -- cases ------------------------------------------------------------------------------------

    @app.post("/cases", status_code=201, response_model=CaseOut, tags=["cases"],
              summary="Open a case (one-stop intake)")  # fmt: skip
    def open_case(intake: Intake, caller: Caller, key: _IdempotencyKey = None) -> Any:
        return engine.open_case(intake, actor=caller, idempotency_key=key).to_json()

    @app.get("/cases", response_model=list[CaseOut], tags=["cases"], summary="List cases")
    def list_cases(
        caller: Caller,
        region: Annotated[str | None, Query(max_length=6, pattern=r"^\d{1,6}$")] = None,
        state: Annotated[str | None, Query(max_length=64)] = None,
        after: Annotated[int, Query(ge=0, lt=2**31)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Any:
        found = engine.cases(actor=caller, region=region, state=state, after=after, limit=limit)
        return [c.to_json() for c in found]

    @app.get("/cases/{case_id}", response_model=CaseOut, tags=["cases"], summary="A case")
    def get_case(case_id: _CaseId, caller: Caller) -> Any:
        return engine.get(case_id, actor=caller).to_json()

    @app.post("/cases/{case_id}/fire", response_model=CaseOut, tags=["cases"],
              summary="Fire a trigger on a case")  # fmt: skip
    def fire(case_id: _CaseId, command: FireIn, caller: Caller, key: _IdempotencyKey = None) -> Any:
        case = engine.fire(
            case_id,
            command.trigger,
            data=command.data,
            actor=caller,
            expected_version=command.expected_version,
            idempotency_key=key,
        )
        return case.to_json()

    @app.get("/cases/{case_id}/history", response_model=list[EventOut], tags=["cases"],
             summary="The case's events, oldest first")  # fmt: skip
    def history(case_id: _CaseId, caller: Caller) -> Any:
        events = engine.history(case_id, actor=caller)
        return [to_json({k: v for k, v in e.as_dict().items() if k != "case_id"}) for e in events]

    @app.get("/cases/{case_id}/deadlines", response_model=list[DeadlineOut], tags=["cases"],
             summary="The case's deadlines")  # fmt: skip
    def deadlines(case_id: _CaseId, caller: Caller) -> Any:
        return [
            {
                "id": d.id,
                "kind": d.kind,
                "party": d.party,
                "status": d.status.value,
                "starts_on": d.starts_on,
                "due": d.due,
                "unit": d.unit,
                "length": d.length,
                "provisional": d.provisional,
            }
            for d in engine.deadlines(case_id, actor=caller)
        ]

    @app.get("/cases/{case_id}/triggers", response_model=list[str], tags=["cases"],
             summary="The triggers the caller can fire now, guards evaluated")  # fmt: skip
    def triggers(case_id: _CaseId, caller: Caller) -> Any:
        return engine.triggers(case_id, actor=caller)

    @app.get("/cases/{case_id}/export", tags=["cases"],
             summary="The whole case: case, parties, claims, history, deadlines")  # fmt: skip
    def export(
        case_id: _CaseId, caller: Caller, clear_text: Annotated[bool, Query()] = False
    ) -> dict[str, Any]:
        return engine.export(case_id, actor=caller, clear_text=clear_text)

    # -- paperwork and docking --------------------------------------------------------------------

    @app.get("/lookup/{reference}", tags=["look-up"],
             summary="A party's view of a case's progress, by serial or case number")  # fmt: skip
    def lookup(reference: Annotated[str, Path(max_length=200)], caller: Caller) -> Any:
        return engine.lookup(reference).to_json()

    @app.get("/cases/{case_id}/documents", tags=["documents"],
             summary="The documents rendered for the case")  # fmt: skip
    def documents(case_id: _CaseId, caller: Caller) -> Any:
        return to_json(engine.documents(case_id, actor=caller))

    @app.post(
        "/cases/{case_id}/documents",
        tags=["documents"],
        summary="Render a document (HTML or DOCX) from the case",
        response_class=Response,
        responses={200: {"content": {"text/html": {}, "application/octet-stream": {}}}},
    )
    def render(case_id: _CaseId, request_body: DocumentIn, caller: Caller) -> Response:
        document = engine.render_document(
            case_id,
            request_body.template,
            format=request_body.format,
            values=request_body.values,
            actor=caller,
        )
        return Response(
            document.content,
            media_type=document.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{document.filename}"',
                "X-Document-SHA256": document.sha256,
            },
        )

    @app.post("/cases/{case_id}/handoff", tags=["handoff"],
              summary="Export a handoff package of the case")  # fmt: skip
    def handoff_export(case_id: _CaseId, request_body: HandoffExportIn, caller: Caller) -> Any:
        package = engine.export_handoff(
            case_id, to_org=request_body.to_org, hold=request_body.hold, actor=caller
        )
        return package.data

    @app.post("/handoff/import", response_model=HandoffResultOut, tags=["handoff"],
              summary="Import a handoff package")  # fmt: skip
    def handoff_import(package: Annotated[dict[str, Any], Body()], caller: Caller) -> Any:
        result = engine.import_handoff(package, actor=caller)
        return {"case_id": result.case_id, "outcome": result.outcome,
                "new_events": result.new_events, "signed_by": result.signed_by}  # fmt: skip

    # -- reports and events -----------------------------------------------------------------------

    @app.get("/reports", tags=["reports"], summary="Figures on the linkage")
    def report(
        caller: Caller,
        region: Annotated[str | None, Query(max_length=6, pattern=r"^\d{1,6}$")] = None,
        since: Annotated[date | None, Query()] = None,
        until: Annotated[date | None, Query()] = None,
    ) -> Any:
        from mediation_flow import reports

        result = engine.report(region=region, since=since, until=until, actor=caller)
        return json.loads(reports.to_json(result))

    @app.get("/events", response_model=EventsPage, tags=["events"],
             summary="Committed events after a cursor (for systems that poll)")  # fmt: skip
    def events(
        caller: Caller,
        after: Annotated[int, Query(ge=0, lt=2**31)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Any:
        if caller.role not in _OFFICIALS and caller.role is not Role.system:
            raise PermissionDenied(
                caller.id, caller.role.value, "read the event feed", None,
                "the feed names every case: it is for intake officers, arbitrators and judges",
            )  # fmt: skip
        page = engine.outbox.events(after, limit, region=caller.region)
        return {
            "events": [e.to_json() for e in page],
            "next_after": page[-1].feed_id if page else after,
        }

    return _BodyLimit(app, max_body) if max_body else app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediation-flow")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def app_from_environment() -> Any:
    """The application ``mediation-flow serve`` configured (read from the environment by each
    uvicorn worker process)."""
    from mediation_flow.cli import make_engine
    from mediation_flow.server.auth import HmacTokenAuthenticator

    config = json.loads(os.environ["MEDIATION_FLOW_SERVE_CONFIG"])
    if config["engine"].get("log_json"):
        # Each server process logs as the command line was told (--log-json).
        from mediation_flow.logging import configure_json_logging

        configure_json_logging()
    else:  # as the command line: warnings and errors, on standard error
        import logging
        import sys

        import structlog

        from mediation_flow.logging import mask_personal_data

        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.format_exc_info,
                mask_personal_data,
                structlog.dev.ConsoleRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        )
    engine = make_engine(config["engine"])
    spec = config.get("authenticator")
    if spec:
        from mediation_flow.cli import _load_plugin

        authenticator: Any = _load_plugin(spec)
    else:
        authenticator = HmacTokenAuthenticator(os.environ["MEDIATION_FLOW_TOKEN_SECRET"])
    return create_app(engine, authenticator=authenticator, max_body=config["max_body"])
