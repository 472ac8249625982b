"""The API Lambda: the service's FastAPI app behind API Gateway, through Mangum.

The stack sets MODALKIT_SERVICE_FILE (the bundled service file) and MODALKIT_CONFIG plus the
MODALKIT_APP_SETTINGS__DEPLOYMENT_CONFIG__* names of the table, queue and bucket. The app is built
on the first event, once per container; the caller's identity comes from the request context.
"""

from __future__ import annotations

import os
from typing import Any

_handler: Any = None


def _build() -> Any:
    from mangum import Mangum

    from modalkit import logs
    from modalkit.loader import load_service

    logs.configure(json_logs=True)
    service_file = os.environ.get("MODALKIT_SERVICE_FILE", "service/app.py")
    return Mangum(load_service(service_file).app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        _handler = _build()
    response: dict[str, Any] = _handler(event, context)
    return response
