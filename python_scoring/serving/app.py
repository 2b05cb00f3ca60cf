"""The online scoring service (`scorehouse serve`): a FastAPI app scoring with batch
scoring's own code (scoring.task.scored_table) on the verified artifacts and the scoring
input of a snapshot (scoring.snapshot), never touching the warehouse.

    POST /v1/models/{model}/score        rows of features -> score, decile, reasons
    POST /v1/models/{model}/score-arrow  the same, rows sent as an Arrow IPC stream
    POST /v1/models/{model}/score-by-id  ids -> the same, on the snapshot's scoring input
    GET  /v1/customers/{id}              the id's latest batch scores and composite scores
    GET  /healthz  /readyz  /metrics     liveness, what is served, Prometheus text
    POST /admin/reload (or SIGHUP)       swap in the domain's CURRENT snapshot

Each model's request body is typed from its scoring input's columns, so the OpenAPI schema
names every feature. Every answer, errors included, is one spool line (serving.spool)
written before the response leaves. Errors are JSON `{"detail": one line}`: 400 malformed
JSON, 401 key, 404 unknown model or id, 409 reload failed, 413 body too large, 422 invalid
rows; never a traceback.
"""

import asyncio
import base64
import contextlib
import datetime as dt
import gc
import hmac
import logging
import os
import re
import signal
import sys
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NotRequired

import anyio
import numpy as np
import pyarrow as pa
import pydantic_core
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from typing_extensions import TypedDict

from python_scoring.errors import ScorehouseError
from python_scoring.features.rowpath import Rows
from python_scoring.project import Project
from python_scoring.serving import metrics
from python_scoring.serving.spool import Spool
from python_scoring.serving.state import BadBody, ServedModel, State, load_state

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 2**20  # above what MAX_ROWS rows take: rows are refused by count first
MAX_ROWS = 5_000
BATCH_ROWS = 64  # requests' rows scored together at most (a bigger request: alone)
API_KEY_HEADER = "X-API-Key"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


# ---- request and response models ----------------------------------------------------------
Finite = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Reasons = Annotated[
    int | None,
    Query(ge=0, le=100, description="at most this many reasons a row (default: the model's)"),
]


class Reason(BaseModel):
    feature: str
    value: str | None = Field(description="the customer's value of the feature, as text")
    contribution: float = Field(description="how far it pushes the score up (model units)")


class ScoredRow(BaseModel):
    entity_id: str | None
    score: float
    decile: int = Field(description="decile of the score in the training baseline: 1 = top 10 %")
    baseline_bin: int = Field(description="baseline bin, 0 = lowest scores")
    reasons: list[Reason]


class ScoreResponse(BaseModel):
    model: str
    version: str
    month: dt.date = Field(description="month of the scoring input the service holds")
    rows: list[ScoredRow]


class ByIdRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[StrictStr, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=MAX_ROWS
    )


class BatchScore(BaseModel):
    model: str
    version: str
    month: dt.date
    score: float
    reasons: list[Reason]


class Composite(BaseModel):
    entity: str
    month: dt.date
    composite_score: float
    models_scored: int
    weight_coverage: float
    rank: int
    decile: int


class Customer(BaseModel):
    entity_id: str
    scores: list[BatchScore]
    composite: list[Composite]


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "malformed JSON",
        401: "missing or wrong API key (when SCOREHOUSE_API_KEY is set)",
        404: "unknown model or id",
        413: "request body too large",
        422: "invalid request (the field and what is wrong)",
        503: "the request log cannot be written: nothing was answered",
    }.items()
}


def _json_type(field: pa.Field) -> Any:
    """The JSON type a request gives for a scoring-input column (null: a missing value)."""
    kind = field.type
    if pa.types.is_boolean(kind):
        base: Any = StrictBool
    elif pa.types.is_integer(kind):
        base = StrictInt
    elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        base = Finite | StrictInt
    else:
        base = StrictStr
    return base | None


def _class_name(model: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", model) if part)


def request_model(served: ServedModel) -> type[BaseModel]:
    """The body of POST /v1/models/<model>/score: rows naming every feature (null allowed),
    and optionally the entity id."""
    snap = served.snap
    types = {f.name: _json_type(f) for f in served.schema}
    row: dict[str, Any] = {name: types[name] for name in snap.features}
    if snap.entity_id not in row:
        row[snap.entity_id] = NotRequired[StrictStr | StrictInt | None]
    name = _class_name(snap.name)
    row_type = TypedDict(f"{name}Row", row)  # a TypedDict: any column name, a plain dict
    row_type.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return type(
        f"{name}ScoreRequest",
        (BaseModel,),
        {
            "__annotations__": {
                "rows": Annotated[list[row_type], Field(min_length=1, max_length=MAX_ROWS)]
            },
            "model_config": ConfigDict(extra="forbid"),
        },
    )


# ---- scoring requests together -------------------------------------------------------------
class _Batcher:
    """Requests to one model that arrive while it is scoring are scored together in one
    call, as one batch (a call's cost is mostly per call, not per row: ~1 ms for 1 row,
    little more for 64). A request arriving to an idle model is scored at once: batching
    adds no wait at low load, and under load it raises what a worker can answer. Scoring
    runs in the event loop itself: a millisecond of numpy work gains nothing from a
    thread, which would cost a hand-over and the wait for the GIL (up to its 5 ms switch
    interval) on every request. A batch that fails is scored request by request, so one
    bad request fails alone."""

    def __init__(self, found: ServedModel) -> None:
        self.found = found
        self.waiting: list[tuple[Rows, asyncio.Future]] = []
        self.running = False

    async def score(self, table: Rows) -> list[dict[str, Any]]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((table, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, rows = [], 0
                while self.waiting and (not batch or rows + len(self.waiting[0][0]) <= BATCH_ROWS):
                    item = self.waiting.pop(0)
                    batch.append(item)
                    rows += len(item[0])
                self._score(batch)
                await asyncio.sleep(0)  # requests read meanwhile join the next batch
        finally:
            self.running = False

    def _score(self, batch: list[tuple[Rows, asyncio.Future]]) -> None:
        try:
            scored = self.found.score(_joined([table for table, _ in batch]))
        except Exception:
            if len(batch) == 1:
                _settle(batch[0][1], exception=sys.exc_info()[1])
                return
            for item in batch:  # who failed it: each request alone
                self._score([item])
            return
        start = 0
        for table, future in batch:
            _settle(future, scored[start : start + len(table)])
            start += len(table)


def _joined(parts: list[Rows]) -> Rows:
    """Requests' rows as one batch."""
    if len(parts) == 1:
        return parts[0]
    return Rows([r for part in parts for r in part.rows], parts[0].schema, parts[0].entity_id)


def _settle(future: asyncio.Future, result: Any = None, exception: BaseException | None = None):
    if future.done():  # the client went away
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


# ---- the app ------------------------------------------------------------------------------
@dataclass
class Settings:
    """What `scorehouse serve` passes its workers (environment variables, as uvicorn starts
    workers by import string)."""

    project_dir: Path
    domain: str
    spool_dir: Path
    spool_fsync: bool = False
    workers: int = 1
    supervisor: int | None = None  # uvicorn's parent process with several workers
    compile_trees: bool = True

    ENV = {
        "project_dir": "SCOREHOUSE_SERVE_PROJECT",
        "domain": "SCOREHOUSE_SERVE_DOMAIN",
        "spool_dir": "SCOREHOUSE_SERVE_SPOOL",
        "spool_fsync": "SCOREHOUSE_SERVE_SPOOL_FSYNC",
        "workers": "SCOREHOUSE_SERVE_WORKERS",
        "supervisor": "SCOREHOUSE_SERVE_SUPERVISOR",
        "compile_trees": "SCOREHOUSE_SERVE_COMPILE",
    }

    def environ(self) -> dict[str, str]:
        return {
            env: str(int(v) if isinstance(v, bool) else v)
            for key, env in self.ENV.items()
            if (v := getattr(self, key)) is not None
        }

    @classmethod
    def from_environ(cls) -> "Settings":
        env = os.environ
        supervisor = env.get("SCOREHOUSE_SERVE_SUPERVISOR")
        return cls(
            Path(env["SCOREHOUSE_SERVE_PROJECT"]),
            env["SCOREHOUSE_SERVE_DOMAIN"],
            Path(env["SCOREHOUSE_SERVE_SPOOL"]),
            env.get("SCOREHOUSE_SERVE_SPOOL_FSYNC") == "1",
            int(env.get("SCOREHOUSE_SERVE_WORKERS", "1")),
            int(supervisor) if supervisor else None,
            env.get("SCOREHOUSE_SERVE_COMPILE", "1") == "1",
        )


def _api_key() -> list[Any]:
    """The routes' dependencies: requests must carry SCOREHOUSE_API_KEY in X-API-Key when
    it is set (and only then does the OpenAPI schema declare the key). An async check: a
    plain function would run in a thread pool on every request."""
    expected = os.environ.get("SCOREHOUSE_API_KEY", "")
    if not expected:
        return []
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    async def check(key: Annotated[str | None, Security(header)] = None) -> None:
        if not (key and hmac.compare_digest(key.encode(), expected.encode())):
            raise HTTPException(401, f"missing or wrong API key ({API_KEY_HEADER} header)")

    return [Depends(check)]


def _freeze() -> None:
    """Leave what is loaded out of the garbage collector's full passes: they would walk
    every object of the models and the id index (tens of ms, a latency spike) to find
    nothing. Frozen objects are still freed when no longer referenced; a reload's old
    state keeps only what reference cycles hold (once a month)."""
    gc.collect()
    gc.freeze()


def _note(request: Request, **fields: Any) -> None:
    """What the spool line of this request says beyond status and latency."""
    request.scope.setdefault("scorehouse", {}).update(fields)


def _one_line(errors: list[dict[str, Any]]) -> str:
    """Validation errors as one line naming each field (never echoing its value)."""
    # what the client sent too much of first, then what is missing, then the rest
    order = {"extra_forbidden": 0, "missing": 1}
    errors = sorted(errors, key=lambda e: order.get(e.get("type", ""), 2))
    parts = []
    for error in errors[:5]:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {error.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def create_app(settings: Settings | None = None, state: State | None = None) -> FastAPI:
    """The app (uvicorn's factory): serves `state`, else loads the domain's snapshot as
    it starts."""
    settings = settings or Settings.from_environ()
    project = Project(settings.project_dir)
    spool = Spool(settings.spool_dir, fsync=settings.spool_fsync)
    registry = metrics.Metrics(multiprocess=settings.workers > 1)
    guard = _api_key()
    holder: dict[str, State] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if state is None:
            holder["state"] = await anyio.to_thread.run_sync(
                load_state, project, settings.domain, settings.compile_trees
            )
        else:
            holder["state"] = state
        _install_models(app, holder["state"])
        _freeze()
        loop = asyncio.get_running_loop()
        if settings.workers == 1:  # uvicorn's own SIGHUP (several workers) restarts them
            # with contextlib.suppress: not in a main thread (a test client) there is no signal
            with contextlib.suppress(RuntimeError):
                loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(hangup()))
        try:
            yield
        finally:
            spool.close()

    app = FastAPI(
        title="scorehouse",
        summary="Online scoring with the batch's verified models and features",
        version="1",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.add_middleware(_Observe, spool=spool, metrics=registry)

    reloading = asyncio.Lock()

    async def reload() -> State:
        async with reloading:
            new = await anyio.to_thread.run_sync(
                load_state, project, settings.domain, settings.compile_trees
            )
            _install_models(app, new)
            holder["state"] = new  # requests in flight keep the state they started with
            _freeze()
            return new

    async def hangup() -> None:
        """SIGHUP: reload, or say in the log why the old state is still served."""
        try:
            new = await reload()
        except Exception as exc:  # the service goes on with what it had
            log.error("reload on SIGHUP failed, still serving the previous snapshot: %s", exc)
        else:
            log.info("reloaded on SIGHUP: snapshot %s", new.snapshot.path.name)

    def served(request: Request, model: str) -> tuple[State, ServedModel]:
        state = holder["state"]
        if model not in state.models:
            _note(request, model_name=model)
            raise HTTPException(
                404, f"unknown model '{model}' (serving: {', '.join(sorted(state.models))})"
            )
        found = state.models[model]
        _note(request, model_name=model, model_version=found.snap.version)
        return state, found

    batchers: weakref.WeakKeyDictionary[ServedModel, _Batcher] = weakref.WeakKeyDictionary()

    async def answer(
        request: Request,
        found: ServedModel,
        table: Rows | pa.Table,
        features: list | None,
        reasons: int | None = None,
    ):
        try:
            if len(table) > BATCH_ROWS or not isinstance(table, Rows) or reasons is not None:
                rows = found.score(table, reasons)  # a batch of its own (it holds the worker)
            else:
                if found not in batchers:
                    batchers[found] = _Batcher(found)
                rows = await batchers[found].score(table)
        except ValueError as exc:  # the estimator's input checks (e.g. beyond float32)
            first = (str(exc).strip().splitlines() or ["invalid values"])[0]
            raise HTTPException(
                422, f"the rows cannot be scored by {found.name}: {first}"
            ) from None
        if not all(np.isfinite(r["score"]) for r in rows) or not all(
            np.isfinite(x["contribution"]) for r in rows for x in r["reasons"]
        ):
            raise HTTPException(422, "feature values out of range: the score is not finite")
        _note(
            request,
            rows=[
                {"entity_id": r["entity_id"], "score": r["score"], "features": f}
                for r, f in zip(rows, features or [None] * len(rows), strict=True)
            ],
        )
        # a ready response: the rows are built to ScoreResponse's shape (tested), and
        # validating them again would cost more than the scoring
        return _Answer(
            {
                "model": found.name,
                "version": found.snap.version,
                "month": found.snap.month.isoformat(),
                "rows": rows,
            }
        )

    def score_route(name: str, body_type: type[BaseModel]):
        async def score(request: Request, body, reasons: Reasons = None) -> ScoreResponse:
            _note(request, endpoint="score")
            _, found = served(request, name)
            rows = body.rows
            table = Rows(rows, found.schema, found.snap.entity_id)
            return await answer(request, found, table, rows, reasons)

        score.__annotations__["body"] = body_type
        return score

    def _install_models(app: FastAPI, state: State) -> None:
        """One typed score route per served model, before the generic routes (whose
        {model} catches the unknown ones); rebuilt when a reload brings other models."""
        wanted = {(n, tuple(str(f) for f in m.schema)) for n, m in state.models.items()}
        if getattr(app.state, "model_routes", None) == wanted:
            return
        routes = [r for r in app.router.routes if not getattr(r, "scorehouse_model", False)]
        typed = []
        for name, found in sorted(state.models.items()):
            route = APIRoute(
                f"/v1/models/{name}/score",
                score_route(name, request_model(found)),
                methods=["POST"],
                response_model=ScoreResponse,
                responses=ERRORS,
                dependencies=guard,
                name=f"score_{name}",
                summary=f"Score rows of {name}'s features",
                tags=["scoring"],
            )
            route.scorehouse_model = True  # type: ignore[attr-defined]
            typed.append(route)
        app.router.routes = typed + routes
        app.openapi_schema = None
        app.state.model_routes = wanted

    @app.post(
        "/v1/models/{model}/score",
        include_in_schema=False,
        dependencies=guard,
    )
    async def unknown_model(request: Request, model: str) -> None:
        _note(request, endpoint="score")
        served(request, model)  # a served model has its own route: this one is unknown

    @app.post(
        "/v1/models/{model}/score-arrow",
        response_model=ScoreResponse,
        responses=ERRORS,
        dependencies=guard,
        tags=["scoring"],
        summary="Score rows sent as an Arrow IPC stream (many rows without JSON's cost)",
        description=(
            f"Body: an Arrow IPC stream ({ARROW_STREAM}) with one column per feature of "
            "the model (GET /readyz names them; types cast safely to the scoring input's), "
            "optionally the entity id, nothing else; 1 to 5,000 rows. A null or NaN is a "
            "missing value. Answered as POST .../score answers."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def score_arrow(request: Request, model: str, reasons: Reasons = None) -> ScoreResponse:
        _note(request, endpoint="score-arrow")
        _, found = served(request, model)
        body = await request.body()
        try:
            table = found.arrow_rows(body, MAX_ROWS)
        except BadBody as exc:
            raise HTTPException(400, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        # the rows' features: the request's own bytes (JSON of 45,000 values would cost
        # more than the scoring); ingest-requests reads them back
        _note(request, features_arrow=base64.b64encode(body).decode("ascii"))
        return await answer(request, found, table, None, reasons)

    @app.post(
        "/v1/models/{model}/score-by-id",
        response_model=ScoreResponse,
        dependencies=guard,
        tags=["scoring"],
        summary="Score customers by id on the scoring input batch scoring read",
    )
    async def score_by_id(
        request: Request, model: str, body: ByIdRequest, reasons: Reasons = None
    ) -> ScoreResponse:
        _note(request, endpoint="score-by-id")
        _, found = served(request, model)
        try:
            table = found.rows_of(body.ids)
        except KeyError as exc:
            raise HTTPException(
                404, f"unknown id {exc.args[0]!r} for {model} in {found.snap.month:%Y-%m}"
            ) from None
        return await answer(request, found, table, None, reasons)

    @app.get(
        "/v1/customers/{entity_id}",
        response_model=Customer,
        dependencies=guard,
        tags=["scoring"],
        summary="A customer's latest batch scores and composite scores",
    )
    async def customer(request: Request, entity_id: str) -> Customer:
        _note(request, endpoint="customer", rows=[{"entity_id": entity_id}])
        found = holder["state"].customer(entity_id)
        if found is None:
            raise HTTPException(404, f"unknown id {entity_id!r}: no batch score holds it")
        return found

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    async def readyz() -> dict[str, Any]:
        state = holder["state"]
        return {
            "ready": True,
            "domain": state.snapshot.domain,
            "snapshot": state.snapshot.path.name,
            "snapshot_created_at": state.snapshot.created_at,
            "loaded_at": state.loaded_at.isoformat(),
            "models": {
                name: {
                    "version": m.snap.version,
                    "month": m.snap.month.isoformat(),
                    "rows": m.snap.rows,
                    "predictor": m.scoring.predictor.method,
                    "row_path": m.scoring.rows is not None,
                }
                for name, m in state.models.items()
            },
        }

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"])
    async def prometheus() -> PlainTextResponse:
        body, content_type = registry.exposition()
        return PlainTextResponse(body, media_type=content_type)

    @app.post("/admin/reload", dependencies=guard, tags=["service"], status_code=200)
    async def admin_reload() -> dict[str, Any]:
        if settings.workers > 1 and settings.supervisor:
            # uvicorn's parent replaces each worker by one loaded anew, ready first
            os.kill(settings.supervisor, signal.SIGHUP)
            return {"reloading": True, "workers": settings.workers}
        try:
            state = await reload()
        except (ScorehouseError, OSError) as exc:
            raise HTTPException(409, f"reload failed, still serving the previous: {exc}") from None
        return {
            "reloaded": True,
            "snapshot": state.snapshot.path.name,
            "models": {n: m.snap.version for n, m in state.models.items()},
        }

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        broken = [e for e in errors if e.get("type") == "json_invalid"]
        if broken:
            where = broken[0].get("loc", ("", "?"))[-1]
            why = broken[0].get("ctx", {}).get("error", "not JSON")
            return _problem(request, 400, f"malformed JSON at character {where}: {why}")
        return _problem(request, 422, _one_line(errors))

    @app.exception_handler(ScorehouseError)
    async def refused(request: Request, exc: ScorehouseError) -> JSONResponse:
        return _problem(request, 422, str(exc))  # e.g. a feature of another kind than trained

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _problem(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("scorehouse", {}).get("request_id", "")
        log.exception("request %s failed", request_id)
        return _problem(request, 500, f"internal error (request {request_id}, in the service log)")

    return app


class _Answer(JSONResponse):
    """A score answer, its JSON written by pydantic-core (~4x json.dumps on 1,000 rows);
    its numbers are finite (checked before)."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def _problem(
    request: Request | None, status: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error answer: {"detail": one line}, noted for the spool line."""
    line = detail.splitlines()[0] if detail else ""
    if request is not None:
        _note(request, error=line)
    return JSONResponse({"detail": line}, status, headers)


_FIXED_PATHS = {"/healthz", "/readyz", "/metrics", "/admin/reload"}
_ENDPOINTS = re.compile(r"^/v1/(?:models/[^/]+/(score|score-arrow|score-by-id)|(customers)/[^/]+)$")


def _endpoint(path: str) -> str:
    """The metrics label of a path no handler named (refused before it ran): bounded."""
    if path in _FIXED_PATHS:
        return path
    found = _ENDPOINTS.match(path)
    if found is None:
        return "other"
    return found.group(1) or "customer"


class _Observe:
    """Pure ASGI middleware: refuses bodies over MAX_BODY_BYTES (413), then, as the
    response starts, writes the request's spool line and its metrics (so an answered
    request is on disk before its client sees the answer)."""

    def __init__(self, app, spool: Spool, metrics: metrics.Metrics) -> None:
        self.app, self.spool, self.metrics = app, spool, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = time.perf_counter()
        received = dt.datetime.now(dt.UTC)
        note = scope.setdefault("scorehouse", {})
        note["request_id"] = uuid.uuid4().hex
        path = scope.get("path", "")
        observed = path.startswith("/v1/")
        if scope.get("method") == "POST":
            body = await self._body(scope, receive, send)
            if body is None:
                self._record(note, path, 413, clock, received, observed)
                return
            sent = False

            async def replay():
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            receive = replay

        refused = False

        async def observe(message) -> None:
            nonlocal refused
            if refused:  # the original answer is dropped: 503 was sent in its place
                return
            if message["type"] == "http.response.start":
                try:
                    self._record(note, path, message["status"], clock, received, observed)
                except OSError as exc:  # an answer not in the log is never given
                    log.error("request log %s unwritable: %s", self.spool.directory, exc)
                    refused = True
                    detail = f"request log unwritable ({exc.strerror}): retry later"
                    await _problem(None, 503, detail)(scope, receive, send)
                    return
                headers = [
                    *message.get("headers", ()),
                    (b"x-request-id", note["request_id"].encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, observe)

    async def _body(self, scope, receive, send) -> bytes | None:
        """The whole body, or None after answering 413."""
        length = dict(scope.get("headers", ())).get(b"content-length")
        too_big = length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES
        chunks, size = [], 0
        while not too_big:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            too_big = size > MAX_BODY_BYTES
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        if too_big:
            detail = f"request body over {MAX_BODY_BYTES // 2**20} MiB: send fewer rows"
            scope["scorehouse"]["error"] = detail
            response = _problem(None, 413, detail, {"connection": "close"})
            await response(scope, receive, send)
            return None
        return b"".join(chunks)

    def _record(self, note, path, status, clock, received, observed) -> None:
        if note.get("recorded"):
            return
        note["recorded"] = True
        latency = time.perf_counter() - clock
        endpoint = note.get("endpoint") or _endpoint(path)
        model = note.get("model_name")
        served = model if note.get("model_version") else None  # labels: served models only
        self.metrics.observe(served, endpoint, status, latency, len(note.get("rows") or ()))
        if not observed:  # health, metrics, docs and admin calls are not requests to log
            return
        self.spool.write(
            {
                "request_id": note["request_id"],
                "received_at": received.isoformat().replace("+00:00", "Z"),
                "endpoint": endpoint,
                "model_name": model,
                "model_version": note.get("model_version"),
                "status": status,
                "latency_ms": round(latency * 1000, 3),
                "error": note.get("error"),
                "rows": note.get("rows") or [],
                **({"features_arrow": note["features_arrow"]} if "features_arrow" in note else {}),
            }
        )
