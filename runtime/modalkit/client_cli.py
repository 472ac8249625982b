"""The client half of the `modalkit` CLI: submit, status, result, wait, cancel, run."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from modalkit.client import (
    Client,
    ClientError,
    JobCancelled,
    JobFailed,
    JobNotFinished,
    WaitTimeout,
)

F = TypeVar("F", bound=Callable[..., Any])

Url = Annotated[str, typer.Option("--url", envvar="MODALKIT_URL", help="the service's base URL")]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", envvar="MODALKIT_API_KEY", help="API key (x-api-key)")
]
Aws = Annotated[bool, typer.Option("--aws/--no-aws", envvar="MODALKIT_AWS", help="sign requests with SigV4")]
Profile = Annotated[
    str | None, typer.Option("--profile", envvar="AWS_PROFILE", help="AWS profile for signing")
]
Region = Annotated[
    str | None, typer.Option("--region", envvar="MODALKIT_REGION", help="AWS region for signing")
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON only, for scripts")]
JobId = Annotated[str, typer.Argument(help="the job id")]
Input = Annotated[str, typer.Argument(help="JSON input: inline, @file.json, or - for stdin")]
Timeout = Annotated[float | None, typer.Option(help="give up after this many seconds")]

EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED, EXIT_TIMEOUT = 1, 2, 3, 4


def _client(url: str, api_key: str | None, aws: bool, profile: str | None, region: str | None) -> Client:
    signer: Any = None
    if aws:
        import boto3

        signer = boto3.session.Session(profile_name=profile, region_name=region)
    return Client(url, api_key=api_key, aws=signer, region=region)


def _read_input(value: str) -> Any:
    if value == "-":
        text = sys.stdin.read()
    elif value.startswith("@"):
        text = Path(value[1:]).read_text()
    else:
        text = value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            f"the input is not valid JSON ({exc.msg} at line {exc.lineno}); pass JSON, @file or -"
        ) from None


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _print(value: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(value))
    else:
        from rich import print_json

        print_json(data=value)


def _describe(status: dict[str, Any], started: float) -> str:
    parts = [f"{status.get('status', '?')}"]
    if status.get("queue_position") is not None:
        parts.append(f"{status['queue_position']} ahead")
    if status.get("progress") is not None:
        parts.append(f"{status['progress'] * 100:.0f}%")
    if status.get("progress_message"):
        parts.append(str(status["progress_message"]))
    parts.append(f"{time.monotonic() - started:.1f}s")
    return " · ".join(parts)


def _wait(client: Client, job_id: str, timeout: float | None, as_json: bool) -> Any:
    """Poll with a live status line, then return the output or raise (non-zero exit)."""
    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    spinner = console.status(f"job {job_id}", spinner="dots") if console.is_terminal and not as_json else None
    last = ""
    if spinner is not None:
        spinner.start()
    try:
        while True:
            status = client.status(job_id)
            line = f"job {job_id}: {_describe(status, started)}"
            if spinner is not None:
                spinner.update(line)
            elif not as_json and status["status"] != last:
                console.print(line, highlight=False)  # not a terminal: one line per change
            last = status["status"]
            if last in ("completed", "failed", "cancelled"):
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"job {job_id} did not finish within {timeout} s", job_id=job_id)
            time.sleep(0.5)
    finally:
        if spinner is not None:
            spinner.stop()
    return client.result(job_id)


def _with_client(
    url: str,
    api_key: str | None,
    aws: bool,
    profile: str | None,
    region: str | None,
    action: Callable[[Client], Any],
) -> None:
    """Run one client action; a client error becomes one line on stderr and its exit code."""
    try:
        with _client(url, api_key, aws, profile, region) as client:
            action(client)
    except JobFailed as exc:
        raise _fail(exc.message, EXIT_FAILED) from None
    except JobCancelled as exc:
        raise _fail(exc.message, EXIT_CANCELLED) from None
    except WaitTimeout as exc:
        raise _fail(exc.message, EXIT_TIMEOUT) from None
    except JobNotFinished as exc:
        raise _fail(f"{exc.message}; try `modalkit wait {exc.job_id}`", EXIT_TIMEOUT) from None
    except ClientError as exc:
        raise _fail(exc.message) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def submit(
        input: Input,
        url: Url = "http://localhost:8000",
        api_key: ApiKey = None,
        aws: Aws = False,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
        idempotency_key: Annotated[str | None, typer.Option(help="reuse to make a retry safe")] = None,
    ) -> None:
        """Submit a job and print its id."""
        payload = _read_input(input)

        def go(client: Client) -> None:
            job_id = client.submit(payload, idempotency_key=idempotency_key)
            typer.echo(json.dumps({"job_id": job_id}) if as_json else job_id)

        _with_client(url, api_key, aws, profile, region, go)

    @app.command()
    def status(
        job_id: JobId,
        url: Url = "http://localhost:8000",
        api_key: ApiKey = None,
        aws: Aws = False,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
    ) -> None:
        """Show a job's status."""

        _with_client(
            url, api_key, aws, profile, region, lambda client: _print(client.status(job_id), as_json)
        )

    @app.command()
    def result(
        job_id: JobId,
        url: Url = "http://localhost:8000",
        api_key: ApiKey = None,
        aws: Aws = False,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
    ) -> None:
        """Print a finished job's output."""

        _with_client(
            url, api_key, aws, profile, region, lambda client: _print(client.result(job_id), as_json)
        )

    @app.command()
    def wait(
        job_id: JobId,
        url: Url = "http://localhost:8000",
        api_key: ApiKey = None,
        aws: Aws = False,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
        timeout: Timeout = None,
    ) -> None:
        """Wait for a job, showing its status, place in line, progress and elapsed time."""

        _with_client(
            url,
            api_key,
            aws,
            profile,
            region,
            lambda client: _print(_wait(client, job_id, timeout, as_json), as_json),
        )

    @app.command()
    def cancel(
        job_id: JobId,
        url: Url = "http://localhost:8000",
        api_key: ApiKey = None,
        aws: Aws = False,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
    ) -> None:
        """Cancel a pending or running job."""

        _with_client(
            url, api_key, aws, profile, region, lambda client: _print(client.cancel(job_id), as_json)
        )

    @app.command()
    def run(
        input: Input,
        url: Url = "http://localhost:8000",
        api_key: ApiKey = None,
        aws: Aws = False,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
        timeout: Timeout = None,
    ) -> None:
        """Submit a job and wait for its output."""
        payload = _read_input(input)

        def go(client: Client) -> None:
            job_id = client.submit(payload)
            _print(_wait(client, job_id, timeout, as_json), as_json)

        _with_client(url, api_key, aws, profile, region, go)
