"""The FastAPI app: thin routes that validate, call the job service, and render.

This module deliberately avoids `from __future__ import annotations`: the routes' body types are the
service's own models, known only when `create_app` runs, and FastAPI reads them from annotations.
"""

import threading
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

from modalkit import __version__
from modalkit.api import errors
from modalkit.api.auth import Authenticator
from modalkit.api.limits import BodyLimit
from modalkit.api.views import (
    BatchAccepted,
    ErrorBody,
    JobAccepted,
    JobView,
    UploadedInput,
    UploadTarget,
    job_view,
)
from modalkit.errors import JobNotFound
from modalkit.job import Job
from modalkit.loader import SPEC_ATTR, ServiceSpec
from modalkit.modalapp import ModalService
from modalkit.service import Call, JobService, Submission, inline
from modalkit.settings import DeploymentConfig
from modalkit.status import JobStatus

# Long polls are capped below API Gateway's 29 s integration timeout.
MAX_WAIT = 25.0
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "missing or invalid API key",
        404: "unknown, expired, deleted or someone else's job",
        409: "the job's state or the Idempotency-Key forbids this",
        413: "request body too large",
        503: "backend unavailable; retry",
    }.items()
}


class JobServiceHolder:
    """Builds the job service on first use, so importing a service file opens no database."""

    def __init__(self, deployment: DeploymentConfig, service: JobService | None = None) -> None:
        self._deployment = deployment
        self._service = service
        self._lock = threading.Lock()

    def get(self) -> JobService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    from modalkit.backends.factory import open_backends

                    self._service = JobService(open_backends(self._deployment), self._deployment)
        return self._service


def create_app(
    service_cls: type[ModalService],
    input_model: type[BaseModel],
    output_model: type[BaseModel],
    *,
    job_service: JobService | None = None,
) -> FastAPI:
    settings = service_cls.modal_utils.settings
    deployment = settings.app_settings.deployment_config
    holder = JobServiceHolder(deployment, job_service)
    authenticator = Authenticator(settings.app_settings.auth_config)
    default_model = service_cls.model_name or ""

    app = FastAPI(
        title=service_cls.modal_utils.app_name,
        version=__version__,
        description="Asynchronous inference jobs: submit, watch, fetch results.",
    )
    setattr(app.state, SPEC_ATTR, ServiceSpec(service_cls, input_model, output_model))
    app.state.jobs = holder
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=deployment.max_request_bytes)

    api_key_header = APIKeyHeader(name=authenticator.header, auto_error=False, description="your API key")

    # Dependencies are async: a sync one costs a thread hop per request.
    async def owner(request: Request, _key: Annotated[str | None, Security(api_key_header)] = None) -> str:
        return authenticator.owner(request)

    async def current_service() -> JobService:
        return holder.get()

    # Local SQLite calls take microseconds: the hot routes make them on the event loop. A network
    # backend (DynamoDB behind uvicorn) gets a worker thread per call instead.
    call: Call = inline if deployment.backend == "local" else run_in_threadpool

    Owner = Annotated[str, Depends(owner)]
    Jobs = Annotated[JobService, Depends(current_service)]
    ModelName = Annotated[str | None, Query(description="which model entry runs the job")]

    def submission(payload: BaseModel, model_name: str | None) -> Submission:
        return Submission(
            payload=payload.model_dump_json(),
            model_name=model_name or default_model,
            success_queue=getattr(payload, "success_queue", None),
            failure_queue=getattr(payload, "failure_queue", None),
        )

    def accepted(job: Job, created: bool) -> JSONResponse:
        body = {"job_id": job.job_id, "status": str(job.status)}
        return JSONResponse(body, status_code=202 if created else 200)

    def idempotency(request: Request) -> str | None:
        key = request.headers.get("idempotency-key")
        return key.strip() if key and key.strip() else None

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/async/predict",
        status_code=202,
        response_model=JobAccepted,
        responses={200: {"model": JobAccepted, "description": "replayed Idempotency-Key"}, **_ERRORS},
        tags=["jobs"],
    )
    async def predict_async(
        payload: input_model,  # type: ignore[valid-type]
        request: Request,
        who: Owner,
        jobs: Jobs,
        model_name: ModelName = None,
    ) -> JSONResponse:
        job, created = await call(jobs.submit, who, submission(payload, model_name), idempotency(request))
        return accepted(job, created)

    # modalkit's own route name, kept for ported clients.
    app.post(
        "/predict_async",
        status_code=202,
        response_model=JobAccepted,
        responses={200: {"model": JobAccepted, "description": "replayed Idempotency-Key"}, **_ERRORS},
        tags=["jobs"],
    )(predict_async)

    @app.post(
        "/async/predict_batch",
        status_code=202,
        response_model=BatchAccepted,
        responses={200: {"model": BatchAccepted, "description": "replayed Idempotency-Key"}, **_ERRORS},
        tags=["jobs"],
    )
    def predict_batch(
        payloads: list[input_model],  # type: ignore[valid-type]
        request: Request,
        who: Owner,
        jobs: Jobs,
        model_name: ModelName = None,
    ) -> JSONResponse:
        made = jobs.submit_batch(who, [submission(p, model_name) for p in payloads], idempotency(request))
        body = {"jobs": [{"job_id": job.job_id, "status": str(job.status)} for job, _ in made]}
        created = any(c for _, c in made) or not made
        return JSONResponse(body, status_code=202 if created else 200)

    @app.post("/async/upload", response_model=UploadTarget, responses=_ERRORS, tags=["jobs"])
    def upload(request: Request, who: Owner, jobs: Jobs) -> dict[str, Any]:
        upload_id, url = jobs.upload_target(who)
        if url.startswith("/"):
            url = str(request.base_url).rstrip("/") + url
        return {
            "upload_id": upload_id,
            "url": url,
            "method": "PUT",
            "expires_in": deployment.aws.presign_expiry,
        }

    @app.post(
        "/async/predict_uploaded",
        status_code=202,
        response_model=JobAccepted,
        responses=_ERRORS,
        tags=["jobs"],
    )
    def predict_uploaded(
        body: UploadedInput, request: Request, who: Owner, jobs: Jobs, model_name: ModelName = None
    ) -> JSONResponse:
        ref = jobs.uploaded_ref(who, body.upload_id)
        item = Submission(payload="", model_name=model_name or default_model, input_ref=ref)
        job, created = jobs.submit(who, item, idempotency(request))
        return accepted(job, created)

    @app.get(
        "/async/status/{job_id}",
        response_model=JobView,
        response_model_exclude_none=True,
        responses=_ERRORS,
        tags=["jobs"],
    )
    async def status(job_id: str, who: Owner, jobs: Jobs) -> dict[str, Any]:
        job = await call(jobs.get, who, job_id)
        return job_view(job, await call(jobs.queue_position, job))

    async def render_result(job: Job, jobs: JobService) -> Response:
        if job.status is JobStatus.COMPLETED:
            out = await call(jobs.output, job)
            if out.url is not None:
                return RedirectResponse(out.url, status_code=307)
            return Response(out.body, media_type="application/json")
        view = job_view(job, await call(jobs.queue_position, job))
        return JSONResponse(view, status_code=200 if job.status.is_terminal() else 202)

    @app.get(
        "/async/result/{job_id}",
        response_model=output_model,
        responses={
            202: {"model": JobView, "description": "not finished yet"},
            307: {"description": "large result: follow Location to download it"},
            **_ERRORS,
        },
        tags=["jobs"],
    )
    async def result(
        job_id: str,
        who: Owner,
        jobs: Jobs,
        wait: Annotated[
            float | None,
            Query(ge=0, le=MAX_WAIT, description="seconds to wait for an unfinished job (0: answer at once)"),
        ] = None,
    ) -> Response:
        wait = deployment.result_wait if wait is None else wait
        job = await jobs.wait(who, job_id, wait, call)
        return await render_result(job, jobs)

    @app.post(
        "/async/cancel/{job_id}",
        response_model=JobView,
        response_model_exclude_none=True,
        responses=_ERRORS,
        tags=["jobs"],
    )
    def cancel(job_id: str, who: Owner, jobs: Jobs) -> dict[str, Any]:
        return job_view(jobs.cancel(who, job_id))

    @app.delete("/async/jobs/{job_id}", status_code=204, responses=_ERRORS, tags=["jobs"])
    def delete(job_id: str, who: Owner, jobs: Jobs) -> Response:
        jobs.delete(who, job_id)
        return Response(status_code=204)

    @app.post(
        "/predict_sync",
        response_model=output_model,
        responses={202: {"model": JobAccepted, "description": "not done in time; poll the job"}, **_ERRORS},
        tags=["sync"],
    )
    async def predict_sync(
        payload: input_model,  # type: ignore[valid-type]
        request: Request,
        who: Owner,
        jobs: Jobs,
        model_name: ModelName = None,
    ) -> Response:
        job, _ = await call(jobs.submit, who, submission(payload, model_name), idempotency(request))
        done = await jobs.wait(who, job.job_id, deployment.sync_timeout, call)
        return await render_result(done, jobs)

    install_blob_routes(app, holder)
    return app


def install_blob_routes(app: FastAPI, holder: JobServiceHolder) -> None:
    """Local mode's stand-in for S3 presigned URLs: the signature in the query is the credential."""
    from modalkit.backends.files import BLOB_ROUTE, FileBlobStore

    def store() -> FileBlobStore:
        blobs = holder.get().blobs
        if not isinstance(blobs, FileBlobStore):
            raise JobNotFound("no such blob")
        return blobs

    def check(blobs: FileBlobStore, method: str, key: str, expires: int, signature: str) -> None:
        if not blobs.verify(method, key, expires, signature):
            raise JobNotFound("this link is invalid or has expired; ask for a new one")

    @app.get(BLOB_ROUTE + "{key:path}", include_in_schema=False)
    def get_blob(key: str, expires: int, signature: str) -> Response:
        blobs = store()
        check(blobs, "GET", key, expires, signature)
        from modalkit.ports import BlobNotFound

        try:
            return Response(blobs.get(key), media_type="application/json")
        except BlobNotFound:
            raise JobNotFound("no such blob") from None

    @app.put(BLOB_ROUTE + "{key:path}", include_in_schema=False)
    async def put_blob(key: str, expires: int, signature: str, request: Request) -> Response:
        blobs = store()
        check(blobs, "PUT", key, expires, signature)
        blobs.put(key, await request.body())
        return Response(status_code=200)
