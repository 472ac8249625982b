"""Blob store on S3: per-job keys, presigned GET/PUT URLs; the bucket's lifecycle rule expires them."""

from __future__ import annotations

from collections.abc import Sequence

from modalkit.backends.aws.clients import AwsClients, error_code, unavailable_on_transient
from modalkit.ports import BlobNotFound, BlobStore


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, *, clients: AwsClients) -> None:
        self.bucket = bucket
        self.clients = clients

    def put(self, key: str, data: bytes) -> None:
        with unavailable_on_transient(f"S3 put {key}"):
            self.clients.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")

    def get(self, key: str) -> bytes:
        with unavailable_on_transient(f"S3 get {key}"):
            try:
                return self.clients.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except Exception as exc:
                if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                    raise BlobNotFound(key) from None
                raise

    def delete(self, keys: Sequence[str]) -> None:
        keys = list(keys)
        for start in range(0, len(keys), 1000):
            objects = [{"Key": k} for k in keys[start : start + 1000]]
            with unavailable_on_transient("S3 delete"):
                self.clients.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})  # type: ignore[typeddict-item]

    def presign_get(self, key: str, expires: int) -> str | None:
        return self.clients.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
        )

    def presign_put(self, key: str, expires: int) -> str | None:
        return self.clients.s3.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
        )
