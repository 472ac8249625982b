"""The blob store contract: put/get/delete and presigned URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from modalkit.backends.factory import Backends
from modalkit.ports import BlobNotFound


def test_put_get_delete(backends: Backends) -> None:
    blobs = backends.blobs
    blobs.put("results/j1/1.json", b'{"big": true}')
    assert blobs.get("results/j1/1.json") == b'{"big": true}'
    blobs.delete(["results/j1/1.json", "results/never/1.json"])
    with pytest.raises(BlobNotFound):
        blobs.get("results/j1/1.json")


def test_presigned_urls_name_the_key_and_expire(backends: Backends) -> None:
    blobs = backends.blobs
    blobs.put("results/j2/1.json", b"{}")
    get_url = blobs.presign_get("results/j2/1.json", 60)
    put_url = blobs.presign_put("uploads/me/u1", 60)
    assert get_url is not None and put_url is not None
    assert "results/j2/1.json" in get_url
    assert "uploads/me/u1" in put_url
    query = parse_qs(urlsplit(get_url).query)
    assert any(k in query for k in ("signature", "X-Amz-Signature"))
    assert get_url != put_url
