"""Every route and every status code, in process, on a real SQLite directory."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from modalkit.api.app import create_app
from modalkit.backends.factory import open_backends
from modalkit.lifecycle import Lifecycle
from modalkit.service import JobService
from modalkit.settings import Settings
from tests.conftest import JobInput, JobOutput, make_settings, service_class

BODY = {"data": {"text": "hello world"}}


def work_one(job_service: JobService, output: str | None = None) -> str:
    """Do what a worker does for one queued job, through the real lifecycle code."""
    life = Lifecycle(job_service.backends, job_service.deployment, worker_id="test")
    [message] = job_service.queue.receive(1, 1, 5)
    claimed = life.claim(message)
    assert claimed is not None
    payload = json.loads(life.load_input(claimed) or "{}")
    text = output if output is not None else payload["data"]["text"].upper()
    assert life.complete(
        claimed.job, JobOutput.model_validate({"result": {"result": text}}).model_dump_json()
    )
    job_service.queue.delete([message.receipt])
    return claimed.job.job_id


def test_health_needs_no_key(api: TestClient) -> None:
    response = api.get("/health", headers={"x-api-key": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_missing_and_wrong_keys_are_401_json(api: TestClient) -> None:
    missing = api.post("/async/predict", json=BODY, headers={"x-api-key": ""})
    wrong = api.post("/async/predict", json=BODY, headers={"x-api-key": "nope"})
    assert missing.status_code == wrong.status_code == 401
    assert "x-api-key" in missing.json()["detail"]
    assert wrong.json()["code"] == "unauthorized"


def test_submit_status_result_round_trip(api: TestClient, job_service: JobService) -> None:
    accepted = api.post("/async/predict", json=BODY)
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert accepted.json() == {"job_id": job_id, "status": "pending"}

    status = api.get(f"/async/status/{job_id}").json()
    assert status["status"] == "pending"
    assert status["queue_position"] == 0
    assert status["attempts"] == 0
    assert "error" not in status

    pending = api.get(f"/async/result/{job_id}")
    assert pending.status_code == 202
    assert pending.json()["status"] == "pending"

    work_one(job_service)
    done = api.get(f"/async/result/{job_id}")
    assert done.status_code == 200
    assert done.content == b'{"result":{"result":"HELLO WORLD"},"status":"completed"}'
    final = api.get(f"/async/status/{job_id}").json()
    assert final["status"] == "completed"
    assert final["attempts"] == 1
    assert final["finished_at"] >= final["started_at"] >= final["created_at"]


def test_queue_position_counts_jobs_ahead(api: TestClient) -> None:
    ids = [api.post("/async/predict", json=BODY).json()["job_id"] for _ in range(3)]
    positions = [api.get(f"/async/status/{i}").json()["queue_position"] for i in ids]
    assert positions == [0, 1, 2]


def test_validation_errors_name_the_field(api: TestClient) -> None:
    response = api.post("/async/predict", json={"data": {}})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"][0]["loc"] == ["body", "data", "text"]
    assert "data.text" in body["message"]


def test_malformed_json_is_422(api: TestClient) -> None:
    response = api.post("/async/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_body_over_the_limit_is_413(api: TestClient, settings: Settings) -> None:
    limit = settings.app_settings.deployment_config.max_request_bytes
    big = {"data": {"text": "x" * (limit + 10)}}
    response = api.post("/async/predict", json=big)
    assert response.status_code == 413
    assert "upload" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b'{"data": {"text": "'
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000
        yield b'"}}'

    streamed = api.post("/async/predict", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_unknown_job_is_404_everywhere(api: TestClient) -> None:
    for method, path in [
        ("GET", "/async/status/nope"),
        ("GET", "/async/result/nope"),
        ("POST", "/async/cancel/nope"),
        ("DELETE", "/async/jobs/nope"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_jobs_are_invisible_to_other_keys(api: TestClient) -> None:
    job_id = api.post("/async/predict", json=BODY).json()["job_id"]
    other = {"x-api-key": "other-key"}
    assert api.get(f"/async/status/{job_id}", headers=other).status_code == 404
    assert api.get(f"/async/result/{job_id}", headers=other).status_code == 404
    assert api.post(f"/async/cancel/{job_id}", headers=other).status_code == 404
    assert api.delete(f"/async/jobs/{job_id}", headers=other).status_code == 404
    assert api.get(f"/async/status/{job_id}").status_code == 200


def test_idempotency_key_replays_and_conflicts(api: TestClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = api.post("/async/predict", json=BODY, headers=headers)
    again = api.post("/async/predict", json=BODY, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    other = api.post("/async/predict", json={"data": {"text": "else"}}, headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    # Keys are per caller: another key holder's same key is a different job.
    theirs = api.post("/async/predict", json=BODY, headers={**headers, "x-api-key": "other-key"})
    assert theirs.status_code == 202
    assert theirs.json()["job_id"] != first.json()["job_id"]


def test_cancel_pending_then_terminal_conflict(api: TestClient, job_service: JobService) -> None:
    job_id = api.post("/async/predict", json=BODY).json()["job_id"]
    cancelled = api.post(f"/async/cancel/{job_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"/async/cancel/{job_id}")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]
    # Its message is still queued; a worker acks and skips it instead of running it.
    life = Lifecycle(job_service.backends, job_service.deployment)
    [message] = job_service.queue.receive(1, 1, 5)
    assert life.claim(message) is None
    assert api.get(f"/async/result/{job_id}").json()["status"] == "cancelled"


def test_delete_forgets_the_job(api: TestClient, job_service: JobService) -> None:
    job_id = api.post("/async/predict", json=BODY).json()["job_id"]
    work_one(job_service)
    assert api.delete(f"/async/jobs/{job_id}").status_code == 204
    assert api.get(f"/async/status/{job_id}").status_code == 404
    assert api.get(f"/async/result/{job_id}").status_code == 404


def test_large_result_comes_from_the_blob_store(api: TestClient, job_service: JobService) -> None:
    job_id = api.post("/async/predict", json=BODY).json()["job_id"]
    big = "y" * 5000
    work_one(job_service, output=big)
    job = job_service.store.load(job_id)
    assert job is not None and job.output is None and job.output_ref
    direct = api.get(f"/async/result/{job_id}", follow_redirects=False)
    assert direct.status_code == 307
    assert "/async/blobs/" in direct.headers["location"]
    followed = api.get(f"/async/result/{job_id}")
    assert followed.status_code == 200
    assert followed.json()["result"]["result"] == big
    tampered = direct.headers["location"].replace("signature=", "signature=0")
    assert api.get(tampered).status_code == 404


def test_upload_then_submit_by_reference(api: TestClient, job_service: JobService) -> None:
    target = api.post("/async/upload").json()
    assert target["method"] == "PUT"
    put = api.put(target["url"], content=json.dumps({"data": {"text": "from upload"}}).encode())
    assert put.status_code == 200
    job_id = api.post("/async/predict_uploaded", json={"upload_id": target["upload_id"]}).json()["job_id"]
    work_one(job_service)
    assert api.get(f"/async/result/{job_id}").json()["result"]["result"] == "FROM UPLOAD"


def test_batch_submit_makes_one_job_each_in_order(api: TestClient, job_service: JobService) -> None:
    texts = ["a", "b", "c"]
    response = api.post("/async/predict_batch", json=[{"data": {"text": t}} for t in texts])
    assert response.status_code == 202
    ids = [j["job_id"] for j in response.json()["jobs"]]
    assert len(set(ids)) == 3
    for _ in texts:
        work_one(job_service)
    assert [api.get(f"/async/result/{i}").json()["result"]["result"] for i in ids] == ["A", "B", "C"]


def test_predict_async_alias_and_model_name(api: TestClient, job_service: JobService) -> None:
    response = api.post("/predict_async?model_name=other", json=BODY)
    assert response.status_code == 202
    job = job_service.store.load(response.json()["job_id"])
    assert job is not None and job.model_name == "other"


def test_predict_sync_answers_202_when_not_done_in_time(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, app_settings={"deployment_config": {"sync_timeout": 0.2}})
    app = create_app(service_class(settings), JobInput, JobOutput)
    with TestClient(app, headers={"x-api-key": "test-key"}) as client:
        response = client.post("/predict_sync", json=BODY)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"


def test_expired_jobs_say_so(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    deployment = settings.app_settings.deployment_config
    now = [1000.0]
    service = JobService(open_backends(deployment), deployment, clock=lambda: now[0])
    app = create_app(service_class(settings), JobInput, JobOutput, job_service=service)
    with TestClient(app, headers={"x-api-key": "test-key"}) as client:
        job_id = client.post("/async/predict", json=BODY).json()["job_id"]
        assert client.get(f"/async/status/{job_id}").status_code == 200
        now[0] += deployment.async_result_ttl + 1
        response = client.get(f"/async/status/{job_id}")
    assert response.status_code == 404
    assert "expired" in response.json()["detail"]


def test_openapi_and_docs(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert "/async/predict" in spec["paths"]
    assert "/async/result/{job_id}" in spec["paths"]
    assert api.get("/docs").status_code == 200


def test_backend_outage_is_503_not_500(api: TestClient, job_service: JobService, tmp_path: Path) -> None:
    job_service.store.close()
    db = job_service.store.db  # type: ignore[attr-defined]
    db.path = tmp_path / "missing-dir" / "no" / "jobs.sqlite3"
    response = api.post("/async/predict", json=BODY)
    assert response.status_code == 503
    assert response.json()["code"] == "backend_unavailable"
