"""Python SDK: submit, watch and fetch jobs; SigV4-signed with your AWS credentials when asked.

    from modalkit.client import Client
    client = Client("http://localhost:8000", api_key="your-api-key", aws=False)
    print(client.run({"data": {"text": "hello world"}}))

`AsyncClient` has the same methods as coroutines. Transient failures (429, 502, 503, 504, connection
errors) are retried with jittered exponential backoff; every other error raises a `ClientError`
subclass that carries the server's message and the job id.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel

if TYPE_CHECKING:
    import boto3

M = TypeVar("M", bound=BaseModel)
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
# Each long poll asks the server to hold the request this long (API Gateway allows 29 s).
LONG_POLL = 20.0


class ClientError(Exception):
    """A request failed; `status` is the HTTP status (0 for network errors)."""

    def __init__(self, message: str, *, status: int = 0, job_id: str | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.job_id = job_id
        self.body = body


class Unauthorized(ClientError):
    pass


class JobNotFound(ClientError):
    pass


class JobExpired(JobNotFound):
    pass


class Conflict(ClientError):
    pass


class ValidationFailed(ClientError):
    pass


class JobFailed(ClientError):
    """The job ended `failed`; `message` is its error."""


class JobCancelled(ClientError):
    pass


class JobNotFinished(ClientError):
    """The job is still pending or processing; `body` is its status."""


class WaitTimeout(ClientError):
    pass


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return json.loads(value.model_dump_json())
    return value


def _raise_for(response: httpx.Response, job_id: str | None) -> None:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    detail = body.get("message") or body.get("detail") if isinstance(body, dict) else body
    message = detail if isinstance(detail, str) else json.dumps(detail)
    family: type[ClientError] = {
        401: Unauthorized,
        403: Unauthorized,
        404: JobNotFound,
        409: Conflict,
        422: ValidationFailed,
    }.get(response.status_code, ClientError)
    if family is JobNotFound and "expired" in message:
        family = JobExpired
    raise family(f"{response.status_code}: {message}", status=response.status_code, job_id=job_id, body=body)


def _read_output(response: httpx.Response, job_id: str | None, output_model: type[M] | None) -> Any:
    """The output in a result (or predict_sync) answer; `JobNotFinished` for 202."""
    body = response.json()
    job_id = job_id or str(body.get("job_id", ""))
    if response.status_code == 202:
        raise JobNotFinished(
            f"job {job_id} is {body.get('status')}; wait for it", status=202, job_id=job_id, body=body
        )
    output = _terminal_output(body, job_id)
    return output_model.model_validate(output) if output_model else output


def _terminal_output(body: dict[str, Any], job_id: str) -> dict[str, Any]:
    """A 200 body from /async/result: the output, or an error for a failed or cancelled job."""
    status = body.get("status")
    if status == "failed" and "job_id" in body and "attempts" in body:
        raise JobFailed(f"job {job_id} failed: {body.get('error')}", status=200, job_id=job_id, body=body)
    if status == "cancelled" and "attempts" in body:
        raise JobCancelled(f"job {job_id} was cancelled", status=200, job_id=job_id, body=body)
    return body


class _Signer:
    """SigV4 for execute-api with botocore, from the default chain or a given session."""

    def __init__(self, session: boto3.Session | None, region: str | None) -> None:
        import boto3

        self.session = session or boto3.session.Session()
        self.region = region or self.session.region_name or "us-east-1"

    def headers(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = self.session.get_credentials()
        if credentials is None:
            raise Unauthorized("no AWS credentials found; configure a profile or pass aws=False")
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


class _Core:
    """What the sync and async clients share: building requests and reading answers."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        aws: bool | boto3.Session | None,
        region: str | None,
        retries: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = retries
        self.signer: _Signer | None = None
        if aws is not None and aws is not False:
            self.signer = _Signer(None if aws is True else aws, region)

    def build(
        self,
        method: str,
        path: str,
        payload: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Request:
        url = httpx.URL(
            self.base_url + path, params={k: v for k, v in (params or {}).items() if v is not None}
        )
        body = b"" if payload is None else json.dumps(_dump(payload)).encode()
        all_headers = {"accept": "application/json", **(headers or {})}
        if payload is not None:
            all_headers["content-type"] = "application/json"
        if self.api_key:
            all_headers["x-api-key"] = self.api_key
        if self.signer is not None:
            all_headers = self.signer.headers(method, str(url), body, all_headers)
        return httpx.Request(method, url, content=body or None, headers=all_headers)

    def backoff(self, attempt: int) -> float:
        return float(min(10.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.5))

    @staticmethod
    def retry_after(response: httpx.Response | None) -> float | None:
        if response is None:
            return None
        value = response.headers.get("retry-after")
        return float(value) if value and value.replace(".", "", 1).isdigit() else None


class Client:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        aws: bool | boto3.Session | None = None,
        region: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = _Core(base_url, api_key, aws, region, retries)
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request, job_id: str | None = None) -> httpx.Response:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._http.send(request)
                if response.status_code not in TRANSIENT_STATUS:
                    if response.status_code == 307:
                        # A presigned URL: fetch it with no credentials of ours attached.
                        response = self._http.get(response.url.join(response.headers["location"]))
                    if response.status_code >= 400:
                        _raise_for(response, job_id)
                    return response
            except httpx.TransportError as exc:
                if attempt >= self._core.retries:
                    raise ClientError(f"cannot reach {self._core.base_url}: {exc}", job_id=job_id) from exc
            if attempt >= self._core.retries and response is not None:
                _raise_for(response, job_id)
            time.sleep(self._core.retry_after(response) or self._core.backoff(attempt))
            attempt += 1

    def _call(
        self, method: str, path: str, payload: Any = None, job_id: str | None = None, **kw: Any
    ) -> httpx.Response:
        return self._send(self._core.build(method, path, payload, **kw), job_id)

    def submit(self, input: Any, idempotency_key: str | None = None, model_name: str | None = None) -> str:
        """Queue one job; a key is generated when none is given, so this call's retries are safe."""
        headers = {"idempotency-key": idempotency_key or uuid.uuid4().hex}
        response = self._call(
            "POST", "/async/predict", input, params={"model_name": model_name}, headers=headers
        )
        return str(response.json()["job_id"])

    def submit_batch(self, inputs: Sequence[Any], idempotency_key: str | None = None) -> list[str]:
        headers = {"idempotency-key": idempotency_key or uuid.uuid4().hex}
        response = self._call("POST", "/async/predict_batch", list(inputs), headers=headers)
        return [str(j["job_id"]) for j in response.json()["jobs"]]

    def status(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._call("GET", f"/async/status/{job_id}", job_id=job_id).json()
        return body

    def result(self, job_id: str, wait: float = 0, output_model: type[M] | None = None) -> Any:
        """The output of a finished job; `JobNotFinished` while it runs, `JobFailed`/`JobCancelled` after."""
        response = self._call("GET", f"/async/result/{job_id}", params={"wait": wait}, job_id=job_id)
        return _read_output(response, job_id, output_model)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll: float = 1.0,
        output_model: type[M] | None = None,
    ) -> Any:
        """Block until the job ends; its output, or `JobFailed`/`JobCancelled`/`JobExpired`/`WaitTimeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = LONG_POLL if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"job {job_id} did not finish within {timeout} s", job_id=job_id)
            asked = time.monotonic()
            try:
                return self.result(job_id, wait=min(LONG_POLL, remaining), output_model=output_model)
            except JobNotFinished:
                # The server long-polls; if it answered early anyway, keep at least `poll` between calls.
                time.sleep(max(0.0, min(poll - (time.monotonic() - asked), remaining)))

    def run(self, input: Any, timeout: float | None = None, output_model: type[M] | None = None) -> Any:
        return self.wait(self.submit(input), timeout=timeout, output_model=output_model)

    def cancel(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._call("POST", f"/async/cancel/{job_id}", job_id=job_id).json()
        return body

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"/async/jobs/{job_id}", job_id=job_id)

    def predict_sync(self, input: Any, output_model: type[M] | None = None) -> Any:
        response = self._call("POST", "/predict_sync", input)
        return _read_output(response, None, output_model)


class AsyncClient:
    """`Client`'s methods as coroutines, on `httpx.AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        aws: bool | boto3.Session | None = None,
        region: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = _Core(base_url, api_key, aws, region, retries)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, request: httpx.Request, job_id: str | None = None) -> httpx.Response:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await self._http.send(request)
                if response.status_code not in TRANSIENT_STATUS:
                    if response.status_code == 307:
                        response = await self._http.get(response.url.join(response.headers["location"]))
                    if response.status_code >= 400:
                        _raise_for(response, job_id)
                    return response
            except httpx.TransportError as exc:
                if attempt >= self._core.retries:
                    raise ClientError(f"cannot reach {self._core.base_url}: {exc}", job_id=job_id) from exc
            if attempt >= self._core.retries and response is not None:
                _raise_for(response, job_id)
            await asyncio.sleep(self._core.retry_after(response) or self._core.backoff(attempt))
            attempt += 1

    async def _call(
        self, method: str, path: str, payload: Any = None, job_id: str | None = None, **kw: Any
    ) -> httpx.Response:
        return await self._send(self._core.build(method, path, payload, **kw), job_id)

    async def submit(
        self, input: Any, idempotency_key: str | None = None, model_name: str | None = None
    ) -> str:
        headers = {"idempotency-key": idempotency_key or uuid.uuid4().hex}
        response = await self._call(
            "POST", "/async/predict", input, params={"model_name": model_name}, headers=headers
        )
        return str(response.json()["job_id"])

    async def submit_batch(self, inputs: Sequence[Any], idempotency_key: str | None = None) -> list[str]:
        headers = {"idempotency-key": idempotency_key or uuid.uuid4().hex}
        response = await self._call("POST", "/async/predict_batch", list(inputs), headers=headers)
        return [str(j["job_id"]) for j in response.json()["jobs"]]

    async def status(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self._call("GET", f"/async/status/{job_id}", job_id=job_id)).json()
        return body

    async def result(self, job_id: str, wait: float = 0, output_model: type[M] | None = None) -> Any:
        response = await self._call("GET", f"/async/result/{job_id}", params={"wait": wait}, job_id=job_id)
        return _read_output(response, job_id, output_model)

    async def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll: float = 1.0,
        output_model: type[M] | None = None,
    ) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = LONG_POLL if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"job {job_id} did not finish within {timeout} s", job_id=job_id)
            asked = time.monotonic()
            try:
                return await self.result(job_id, wait=min(LONG_POLL, remaining), output_model=output_model)
            except JobNotFinished:
                await asyncio.sleep(max(0.0, min(poll - (time.monotonic() - asked), remaining)))

    async def run(self, input: Any, timeout: float | None = None, output_model: type[M] | None = None) -> Any:
        return await self.wait(await self.submit(input), timeout=timeout, output_model=output_model)

    async def cancel(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self._call("POST", f"/async/cancel/{job_id}", job_id=job_id)).json()
        return body

    async def delete(self, job_id: str) -> None:
        await self._call("DELETE", f"/async/jobs/{job_id}", job_id=job_id)

    async def predict_sync(self, input: Any, output_model: type[M] | None = None) -> Any:
        response = await self._call("POST", "/predict_sync", input)
        return _read_output(response, None, output_model)
