"""Real processes for tests: config files, free ports, `modalkit serve` / `modalkit worker`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = Path(__file__).resolve().parent / "fixtures" / "services"
SEED_APP = ROOT / "examples" / "async_uppercase" / "app.py"
API_KEY = "test-key"
HEADERS = {"x-api-key": API_KEY}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def write_config(directory: Path, deployment: dict[str, Any] | None = None, **sections: Any) -> Path:
    """A modalkit.yaml for tests: local backend under `directory`, fast timings, one API key."""
    config: dict[str, Any] = {
        "app_settings": {
            "app_prefix": "test",
            "deployment_config": {
                "backend": "local",
                "local": {"data_dir": str(directory / "data")},
                "retries": 2,
                "visibility_timeout": 2,
                "heartbeat_interval": 0.25,
                "reaper_interval": 0.5,
                "stop_timeout": 5,
                "cancel_grace": 1,
                "result_wait": 0,
            },
            "batch_config": {"max_batch_size": 4, "wait_ms": 5},
            "auth_config": {"api_keys": [API_KEY, "other-key"]},
        }
    }
    config = deep_merge(config, {"app_settings": {"deployment_config": deployment or {}}})
    config = deep_merge(config, sections)
    path = directory / "modalkit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Proc:
    """A `modalkit ...` command in its own process group, so signals reach only it."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._fh = log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "modalkit", *args],
            cwd=cwd,
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group: the process and any child it spawned."""
        if self.alive():
            self.signal(signal.SIGKILL)
        self.popen.wait(10)
        self._fh.close()

    def stop(self, timeout: float = 15) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._fh.close()
        return int(self.popen.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def process_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODALKIT_")}
    env.update({"MODALKIT_CONFIG": str(config), "PYTHONUNBUFFERED": "1", **extra})
    return env


class Server:
    """`modalkit serve FILE` on a free port, ready when /health answers."""

    def __init__(
        self, service: Path, config: Path, *, workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.service = service
        self.config = config
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = process_env(config, **(env or {}))
        self.proc: Proc | None = None

    def start(self, timeout: float = 30) -> Server:
        args = ["serve", str(self.service), "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = Proc(args, cwd=self.config.parent, env=self.env, log=self.config.parent / "serve.log")
        wait_until(self._healthy, timeout, f"{self.url}/health\n{self.proc.output()}")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if not self.proc.alive():
            raise AssertionError(f"server exited:\n{self.proc.output()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        assert self.proc is not None
        return self.proc.stop()

    def client(self, key: str = API_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-api-key": key}, timeout=30)


def start_worker(service: Path, config: Path, name: str = "worker", **env: str) -> Proc:
    return Proc(
        ["worker", str(service)],
        cwd=config.parent,
        env=process_env(config, **env),
        log=config.parent / f"{name}.log",
    )
