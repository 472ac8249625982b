"""Task queue on SQS: standard queue, redrive to a DLQ, long polling, batch calls, heartbeats."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modalkit.backends.aws.clients import AwsClients, error_code, unavailable_on_transient
from modalkit.errors import BackendUnavailable, PayloadTooLarge
from modalkit.ports import Message, TaskQueue

MAX_MESSAGE_BYTES = 256 * 1024
MAX_VISIBILITY = 43_200
_BATCH = 10


def _chunks(items: Sequence[Any], size: int = _BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class SqsQueue(TaskQueue):
    def __init__(self, name: str, *, clients: AwsClients, dead_letter_name: str | None = None) -> None:
        self.name = name
        self.clients = clients
        self.dead_letter_name = dead_letter_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            with unavailable_on_transient(f"SQS {self.name}"):
                try:
                    self._url = self.clients.sqs.get_queue_url(QueueName=self.name)["QueueUrl"]
                except Exception as exc:
                    if "NonExistentQueue" in error_code(exc):
                        raise BackendUnavailable(
                            f"SQS queue {self.name!r} does not exist;"
                            " run `modalkit aws bootstrap` or deploy the stack"
                        ) from None
                    raise
        return self._url

    @staticmethod
    def _check_size(body: str) -> None:
        size = len(body.encode())
        if size > MAX_MESSAGE_BYTES:
            raise PayloadTooLarge(
                f"message of {size} bytes is over SQS's {MAX_MESSAGE_BYTES}-byte limit;"
                " store large payloads in S3"
            )

    def send(self, body: str, delay: float = 0) -> str:
        self._check_size(body)
        with unavailable_on_transient(f"SQS send to {self.name}"):
            response = self.clients.sqs.send_message(
                QueueUrl=self.url, MessageBody=body, DelaySeconds=min(900, int(delay))
            )
        return response["MessageId"]

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        for body in bodies:
            self._check_size(body)
        ids: list[str] = []
        for chunk in _chunks(list(bodies)):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
            with unavailable_on_transient(f"SQS send to {self.name}"):
                response = self.clients.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]
            if response.get("Failed"):
                reasons = {f.get("Code", "?") for f in response["Failed"]}
                raise BackendUnavailable(f"SQS refused {len(response['Failed'])} messages: {sorted(reasons)}")
            by_id = {s["Id"]: s["MessageId"] for s in response.get("Successful", [])}
            ids += [by_id[str(i)] for i in range(len(chunk))]
        return ids

    def receive(self, max_messages: int, wait_seconds: float, visibility_timeout: float) -> list[Message]:
        got: list[Message] = []
        wait = min(20, int(wait_seconds))
        visibility = min(MAX_VISIBILITY, math.ceil(visibility_timeout))
        while len(got) < max_messages:
            with unavailable_on_transient(f"SQS receive from {self.name}"):
                response = self.clients.sqs.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(_BATCH, max_messages - len(got)),
                    WaitTimeSeconds=wait if not got else 0,
                    VisibilityTimeout=visibility,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
            batch = response.get("Messages", [])
            got += [
                Message(
                    m["MessageId"],
                    m["Body"],
                    m["ReceiptHandle"],
                    int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                )
                for m in batch
            ]
            if len(batch) < _BATCH:
                break
        return got

    def delete(self, receipts: Sequence[str]) -> None:
        for chunk in _chunks(list(receipts)):
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)]
            with unavailable_on_transient(f"SQS delete from {self.name}"):
                self.clients.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]

    def change_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        timeout = max(0, min(MAX_VISIBILITY, math.ceil(seconds)))
        for chunk in _chunks(list(receipts)):
            entries = [
                {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": timeout} for i, r in enumerate(chunk)
            ]
            with unavailable_on_transient(f"SQS visibility on {self.name}"):
                self.clients.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]

    def depth(self) -> int:
        with unavailable_on_transient(f"SQS attributes of {self.name}"):
            attrs = self.clients.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", "0"))

    def dead_letter_queue(self) -> SqsQueue | None:
        if self.dead_letter_name is None:
            return None
        return SqsQueue(self.dead_letter_name, clients=self.clients)

    def sibling(self, name: str) -> SqsQueue:
        return SqsQueue(name, clients=self.clients)
