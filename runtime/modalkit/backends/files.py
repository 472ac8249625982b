"""Blob store on local files. Its "presigned" URLs point at the local API's /async/blobs route."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote, urlencode

from modalkit.ports import BlobNotFound, BlobStore

BLOB_ROUTE = "/async/blobs/"


class FileBlobStore(BlobStore):
    def __init__(self, root: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._secret = _load_secret(self.root / ".signing-key")

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
            raise ValueError(f"bad blob key {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a blob.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def presign_get(self, key: str, expires: int) -> str | None:
        return self._presign("GET", key, expires)

    def presign_put(self, key: str, expires: int) -> str | None:
        return self._presign("PUT", key, expires)

    def _presign(self, method: str, key: str, expires: int) -> str:
        self._path(key)
        until = int(self.clock()) + expires
        query = urlencode({"expires": until, "signature": self._sign(method, key, until)})
        return f"{BLOB_ROUTE}{quote(key)}?{query}"

    def _sign(self, method: str, key: str, until: int) -> str:
        return hmac.new(self._secret, f"{method}\n{key}\n{until}".encode(), hashlib.sha256).hexdigest()

    def verify(self, method: str, key: str, until: int, signature: str) -> bool:
        """True if a URL made by `presign_*` for this method and key is genuine and unexpired."""
        if until < self.clock():
            return False
        return hmac.compare_digest(self._sign(method, key, until), signature)


def _load_secret(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    os.chmod(tmp, 0o600)
    try:
        # link, not replace: of two processes starting at once, the first key wins for both.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_bytes()
