"""Job store on DynamoDB: one table keyed by `job_id`, conditional writes for every status change,
`expires_at` as the TTL attribute (filtered on read: TTL deletion lags by up to days), and a sparse
`by_status` index (status, updated_at) for the reaper and queue positions."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from decimal import Decimal
from typing import Any

from modalkit.backends.aws.clients import AwsClients, error_code, unavailable_on_transient
from modalkit.errors import AlreadyExists, JobConflict, PayloadTooLarge
from modalkit.job import Job, check_fields
from modalkit.ports import JobStore, KeyBinding
from modalkit.status import JobStatus

STATUS_INDEX = "by_status"
_KEY_PREFIX = "idem#"
_CONDITION_FAILED = "ConditionalCheckFailedException"


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value % 1 else int(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


class DynamoJobStore(JobStore):
    def __init__(self, table: str, *, clients: AwsClients) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table
        self.clients = clients
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def _item(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_to_dynamo(v)) for k, v in values.items() if v is not None}

    def _plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: _from_dynamo(self._de.deserialize(v)) for k, v in item.items()}

    def _job(self, item: Mapping[str, Any] | None) -> Job | None:
        if not item:
            return None
        data = self._plain(item)
        if "status" not in data:
            return None
        for name in ("created_at", "updated_at", "expires_at"):
            data[name] = float(data[name])
        return Job.from_dict(data)

    def create(self, job: Job) -> None:
        values = {k: v for k, v in job.to_dict().items() if k != "extra" or v}
        with unavailable_on_transient("DynamoDB put"):
            try:
                self.clients.dynamodb.put_item(
                    TableName=self.table,
                    Item=self._item(values),
                    ConditionExpression="attribute_not_exists(job_id)",
                )
            except Exception as exc:
                code = error_code(exc)
                if code == _CONDITION_FAILED:
                    raise AlreadyExists(f"job {job.job_id} already exists") from None
                if code == "ValidationException" and "size" in str(exc).lower():
                    raise PayloadTooLarge(f"job {job.job_id} is too large for one DynamoDB item") from exc
                raise

    def load(self, job_id: str) -> Job | None:
        with unavailable_on_transient("DynamoDB get"):
            response = self.clients.dynamodb.get_item(
                TableName=self.table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
            )
        return self._job(response.get("Item"))

    def update(
        self,
        job_id: str,
        *,
        expect: Collection[JobStatus],
        changes: Mapping[str, Any],
        expect_updated_at: float | None = None,
    ) -> Job:
        check_fields(changes)
        names: dict[str, str] = {"#status": "status", "#job_id": "job_id"}
        values: dict[str, Any] = {}
        sets, removes = [], []
        for i, (name, value) in enumerate(changes.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = self._ser.serialize(_to_dynamo(str(value) if name == "status" else value))
        expected = [f":s{i}" for i, _ in enumerate(expect)]
        for i, status in enumerate(expect):
            values[f":s{i}"] = {"S": str(status)}
        condition = f"attribute_exists(#job_id) AND #status IN ({', '.join(expected)})"
        if expect_updated_at is not None:
            names["#updated_at"] = "updated_at"
            values[":expect_updated"] = self._ser.serialize(_to_dynamo(expect_updated_at))
            condition += " AND #updated_at = :expect_updated"
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        with unavailable_on_transient("DynamoDB update"):
            try:
                response = self.clients.dynamodb.update_item(
                    TableName=self.table,
                    Key={"job_id": {"S": job_id}},
                    UpdateExpression=expression.strip(),
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except Exception as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise
                old = getattr(exc, "response", {}).get("Item")
                current = self._job(old) if old else self.load(job_id)
                state = current.status if current else "gone"
                raise JobConflict(
                    f"job {job_id} is {state}, not {'/'.join(str(s) for s in expect)}", current=current
                ) from None
        job = self._job(response.get("Attributes"))
        assert job is not None
        return job

    def delete(self, job_id: str) -> None:
        with unavailable_on_transient("DynamoDB delete"):
            response = self.clients.dynamodb.delete_item(
                TableName=self.table, Key={"job_id": {"S": job_id}}, ReturnValues="ALL_OLD"
            )
            old = self._job(response.get("Attributes"))
            if old is not None and old.idempotency_key:
                self.clients.dynamodb.delete_item(
                    TableName=self.table, Key={"job_id": {"S": _KEY_PREFIX + old.idempotency_key}}
                )

    def claim_key(
        self, key: str, request_hash: str, job_id: str, expires_at: float, now: float
    ) -> KeyBinding | None:
        item = {
            "job_id": _KEY_PREFIX + key,
            "bound_job_id": job_id,
            "request_hash": request_hash,
            "expires_at": expires_at,
        }
        with unavailable_on_transient("DynamoDB put"):
            try:
                self.clients.dynamodb.put_item(
                    TableName=self.table,
                    Item=self._item(item),
                    ConditionExpression="attribute_not_exists(job_id) OR expires_at <= :now",
                    ExpressionAttributeValues={":now": self._ser.serialize(_to_dynamo(now))},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except Exception as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise
                old = getattr(exc, "response", {}).get("Item")
                if old is None:
                    got = self.clients.dynamodb.get_item(
                        TableName=self.table, Key={"job_id": {"S": _KEY_PREFIX + key}}, ConsistentRead=True
                    )
                    old = got.get("Item")
                data = self._plain(old or {})
                return KeyBinding(str(data.get("bound_job_id", "")), str(data.get("request_hash", "")))
        return None

    def _query_status(self, status: JobStatus, before: float, **extra: Any) -> Iterator[Any]:
        """Pages of the sparse status index: jobs in `status` with `updated_at` before the bound."""
        with unavailable_on_transient("DynamoDB query"):
            yield from self.clients.dynamodb.get_paginator("query").paginate(
                TableName=self.table,
                IndexName=STATUS_INDEX,
                KeyConditionExpression="#status = :s AND updated_at < :t",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":s": {"S": str(status)},
                    ":t": self._ser.serialize(_to_dynamo(before)),
                },
                **extra,
            )

    def find(self, status: JobStatus, updated_before: float, limit: int = 100) -> list[Job]:
        jobs: list[Job] = []
        for page in self._query_status(status, updated_before):
            for item in page.get("Items", []):
                job = self._job(item)
                if job is not None:
                    jobs.append(job)
                if len(jobs) >= limit:
                    return jobs
        return jobs

    def count_ahead(self, job: Job) -> int:
        pages = self._query_status(JobStatus.PENDING, job.created_at, Select="COUNT")
        return sum(int(page.get("Count", 0)) for page in pages)
