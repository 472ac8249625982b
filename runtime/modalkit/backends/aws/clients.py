"""boto3 clients made lazily, once per process, and injectable (tests pass their own)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from modalkit.errors import BackendUnavailable

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Codes that mean "try again later", not "your request is wrong".
TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalError",
        "SlowDown",
        "AWS.SimpleQueueService.ServiceUnavailable",
    }
)


class AwsClients:
    _shared: ClassVar[dict[tuple[str, str | None], AwsClients]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        *,
        session: boto3.Session | None = None,
        dynamodb: DynamoDBClient | None = None,
        sqs: SQSClient | None = None,
        s3: S3Client | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session
        self._clients: dict[str, Any] = {"dynamodb": dynamodb, "sqs": sqs, "s3": s3}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, region: str, endpoint_url: str | None = None) -> AwsClients:
        """One set of clients per process and endpoint: clients are costly to make, cheap to share."""
        with cls._shared_lock:
            key = (region, endpoint_url)
            if key not in cls._shared:
                cls._shared[key] = cls(region, endpoint_url)
            return cls._shared[key]

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._make(service)
                    self._clients[service] = client
        return client

    def _make(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        session = self._session or boto3.session.Session()
        extra: dict[str, Any] = {}
        if service == "s3":
            # Path-style keeps presigned URLs working against moto_server on 127.0.0.1.
            style = "path" if self.endpoint_url else "auto"
            extra = {"signature_version": "s3v4", "s3": {"addressing_style": style}}
        config = Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": 5},
            connect_timeout=5,
            read_timeout=30,
            **extra,
        )
        return session.client(service, endpoint_url=self.endpoint_url, config=config)  # type: ignore[call-overload]

    @property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    @property
    def sqs(self) -> SQSClient:
        client: SQSClient = self._client("sqs")
        return client

    @property
    def s3(self) -> S3Client:
        client: S3Client = self._client("s3")
        return client


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextmanager
def unavailable_on_transient(what: str) -> Iterator[None]:
    """Map network failures and throttling to `BackendUnavailable`; other errors pass through."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        if error_code(exc) in TRANSIENT:
            raise BackendUnavailable(f"{what}: {error_code(exc)}; retry shortly") from exc
        raise
    except BotoCoreError as exc:
        raise BackendUnavailable(f"{what}: {exc}") from exc
