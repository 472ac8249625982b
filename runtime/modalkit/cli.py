"""The `modalkit` command: serve and work locally, bootstrap AWS resources, and talk to a service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modalkit.errors import ModalkitError

if TYPE_CHECKING:
    from modalkit.settings import Settings

app = typer.Typer(
    help="modalkit: asynchronous ML inference, locally and in your own AWS account.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
aws_app = typer.Typer(help="AWS helpers.", no_args_is_help=True)
app.add_typer(aws_app, name="aws")

ServiceFile = Annotated[Path, typer.Argument(help="the service's .py file (the seed's layout)")]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@app.command()
def serve(
    file: ServiceFile,
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="worker processes to start beside the API (0: API only)")] = 1,
    reaper: Annotated[bool, typer.Option(help="run the reaper in the API process")] = True,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
) -> None:
    """Start the HTTP API, the workers and the reaper for the service in FILE."""
    import uvicorn

    from modalkit import logs
    from modalkit.backends.factory import open_backends
    from modalkit.lifecycle import Lifecycle
    from modalkit.loader import load_service
    from modalkit.reaper import ReaperThread

    logs.configure()
    try:
        loaded = load_service(file)
        settings = loaded.spec.service_cls.modal_utils.settings
        deployment = settings.app_settings.deployment_config
        backends = open_backends(deployment)
    except ModalkitError as exc:
        raise fail(exc.message) from None
    pool = WorkerPool(str(file), workers)
    pool.start()
    reaper_thread = None
    if reaper:
        reaper_thread = ReaperThread(Lifecycle(backends, deployment), deployment.reaper_interval)
        reaper_thread.start()
    typer.echo(
        f"modalkit: serving {file} on http://{host}:{port}"
        f" ({workers} worker(s), backend {deployment.backend})"
    )
    # uvicorn re-raises the stop signal once it has shut down; land it here so serve exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        uvicorn.run(
            loaded.app,
            host=host,
            port=port,
            access_log=access_log,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    finally:
        if reaper_thread is not None:
            reaper_thread.stop()
        pool.stop(deployment.stop_timeout + 5)


class WorkerPool:
    """`modalkit worker` processes beside the API, restarted if one dies."""

    def __init__(self, file: str, size: int) -> None:
        self.file = file
        self.size = size
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "modalkit", "worker", self.file])

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.size)]
        if self.size:
            threading.Thread(target=self._watch, name="modalkit-worker-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping.is_set():
                    typer.secho(f"modalkit: worker exited ({proc.returncode}); restarting it", err=True)
                    self.procs[i] = self._spawn()

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


@app.command()
def worker(
    file: ServiceFile,
    drain: Annotated[bool, typer.Option(help="exit once the queue is empty (AWS Batch)")] = False,
) -> None:
    """Run a worker for the service in FILE (what the GPU container runs)."""
    from modalkit import logs
    from modalkit.backends.factory import open_backends
    from modalkit.worker.supervisor import Worker

    logs.configure()
    try:
        settings = _service_settings(file)
        backends = open_backends(settings.app_settings.deployment_config)
    except ModalkitError as exc:
        raise fail(exc.message) from None
    runner = Worker(str(file.resolve()), settings, backends, drain=drain)
    runner.install_signal_handlers()
    runner.run()
    backends.close()


@app.command()
def reap(file: ServiceFile) -> None:
    """Run the reaper once: re-enqueue or fail jobs whose worker vanished, purge expired jobs."""
    from modalkit import logs
    from modalkit.backends.factory import open_backends
    from modalkit.lifecycle import Lifecycle
    from modalkit.reaper import reap_once

    logs.configure()
    try:
        settings = _service_settings(file)
        deployment = settings.app_settings.deployment_config
        report = reap_once(Lifecycle(open_backends(deployment), deployment))
    except ModalkitError as exc:
        raise fail(exc.message) from None
    typer.echo(
        f"requeued {len(report.requeued)}, failed {len(report.failed)},"
        f" dead-lettered {len(report.dead_lettered)}, purged {report.purged}"
    )


@aws_app.command("bootstrap")
def aws_bootstrap(
    config: Annotated[
        Path | None, typer.Option(help="a modalkit.yaml (default: MODALKIT_CONFIG or ./modalkit.yaml)")
    ] = None,
) -> None:
    """Create the table, queues and bucket that the config names, where missing."""
    from modalkit.settings import load_settings

    if config is not None:
        os.environ["MODALKIT_CONFIG"] = str(config)
    try:
        from modalkit.backends.aws.bootstrap import bootstrap

        settings = load_settings()
        for line in bootstrap(settings.app_settings.deployment_config):
            typer.echo(line)
    except ModalkitError as exc:
        raise fail(exc.message) from None
    except ImportError as exc:
        raise fail(f"the AWS extras are not installed ({exc.name}); pip install 'modalkit[aws]'") from None


def _service_settings(file: Path) -> Settings:
    from modalkit.loader import load_service

    return load_service(file).spec.service_cls.modal_utils.settings


def main() -> None:
    from modalkit.client_cli import register

    register(app)
    app()


if __name__ == "__main__":
    main()
