"""Schemathesis against a running `modalkit serve`: generated requests, from valid to hostile, never
get a 5xx and always get a response that matches the OpenAPI schema. bench/fuzz.py runs 10,000."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import API_KEY, SERVICES, Server, write_config

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    config = write_config(directory, {"sync_timeout": 0.2})
    running = Server(SERVICES / "echo.py", config, workers=1).start()
    yield running
    running.stop()


def fuzz(url: str, examples: int) -> int:
    """Run `examples` generated cases per operation; return how many ran. Failures raise."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal ran
            ran += 1
            case.call_and_validate(headers={"x-api-key": API_KEY})

        check()
    return ran


def test_no_server_errors_and_responses_match_the_schema(server: Server) -> None:
    ran = fuzz(server.url, EXAMPLES)
    assert ran >= 100
