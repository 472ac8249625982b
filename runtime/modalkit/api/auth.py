"""Who is calling. Behind API Gateway, its request context says (it already checked IAM and the
API key); anywhere else, the `x-api-key` header is checked against the configured keys."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from starlette.requests import Request

from modalkit.errors import Unauthorized
from modalkit.settings import AuthConfig


def gateway_identity(event: dict[str, Any]) -> str | None:
    """The owner named by an API Gateway REST proxy event, or None if it names nobody."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId")
    principal = identity.get("userArn") or identity.get("caller")
    if not key_id and not principal:
        return None
    return f"apikey:{key_id or '-'}|iam:{principal or '-'}"


def key_owner(key: str) -> str:
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]


class Authenticator:
    def __init__(self, auth: AuthConfig) -> None:
        self.header = auth.auth_header.lower()
        self.keys = [k.encode() for k in auth.local_keys()]

    def owner(self, request: Request) -> str:
        event = request.scope.get("aws.event")
        if isinstance(event, dict):
            owner = gateway_identity(event)
            if owner is None:
                raise Unauthorized("the API Gateway request carried no caller identity")
            return owner
        given = request.headers.get(self.header)
        if not given:
            raise Unauthorized(f"missing API key: send it in the {self.header} header")
        if not self.keys:
            raise Unauthorized(
                "no API keys are configured: set app_settings.auth_config.api_keys or MODALKIT_API_KEYS"
            )
        candidate = given.encode()
        # Compare against every key, so the time taken does not say which one nearly matched.
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            raise Unauthorized(f"invalid API key in the {self.header} header")
        return key_owner(given)
