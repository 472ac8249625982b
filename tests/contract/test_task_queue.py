"""The task queue contract: visibility, redelivery, receive counts, dead letters, batches."""

from __future__ import annotations

import time

from modalkit.backends.factory import Backends
from tests.contract.conftest import MAX_RECEIVES


def test_send_receive_delete(backends: Backends) -> None:
    queue = backends.queue
    queue.send("one")
    [message] = queue.receive(10, 1, 30)
    assert (message.body, message.receive_count) == ("one", 1)
    queue.delete([message.receipt])
    assert queue.receive(10, 0, 30) == []


def test_a_received_message_is_invisible_until_its_timeout(backends: Backends) -> None:
    queue = backends.queue
    queue.send("m")
    first = queue.receive(1, 1, 1)
    assert len(first) == 1
    assert queue.receive(1, 0, 1) == []
    time.sleep(1.2)
    [again] = queue.receive(1, 1, 30)
    assert again.body == "m"
    assert again.receive_count == 2


def test_heartbeat_extends_and_zero_releases(backends: Backends) -> None:
    queue = backends.queue
    queue.send("m")
    [message] = queue.receive(1, 1, 1)
    queue.change_visibility([message.receipt], 30)
    time.sleep(1.2)
    assert queue.receive(1, 0, 30) == []  # extended: still hidden
    queue.change_visibility([message.receipt], 0)
    [released] = queue.receive(1, 1, 30)
    assert released.body == "m"


def test_batch_send_receive_and_delete_past_ten(backends: Backends) -> None:
    queue = backends.queue
    bodies = [f"b{i}" for i in range(13)]
    ids = queue.send_batch(bodies)
    assert len(set(ids)) == 13
    got = queue.receive(13, 1, 30)
    while len(got) < 13:  # SQS may answer a large receive in parts
        more = queue.receive(13 - len(got), 1, 30)
        assert more, "messages went missing"
        got += more
    assert sorted(m.body for m in got) == sorted(bodies)
    queue.delete([m.receipt for m in got])
    assert queue.receive(10, 0, 30) == []


def test_dead_letter_after_max_receives(backends: Backends) -> None:
    queue = backends.queue
    queue.send("poison")
    for count in range(1, MAX_RECEIVES + 1):
        [message] = queue.receive(1, 1, 1)
        assert message.receive_count == count
        queue.change_visibility([message.receipt], 0)
    assert queue.receive(1, 0, 1) == []
    dlq = queue.dead_letter_queue()
    assert dlq is not None
    assert [m.body for m in dlq.receive(10, 1, 30)] == ["poison"]


def test_worker_dead_letters_explicitly(backends: Backends) -> None:
    queue = backends.queue
    queue.send("given up")
    [message] = queue.receive(1, 1, 30)
    queue.dead_letter(message)
    dlq = queue.dead_letter_queue()
    assert dlq is not None and [m.body for m in dlq.receive(10, 1, 30)] == ["given up"]
    assert queue.depth() == 0


def test_sibling_queues_carry_notifications(backends: Backends, request: object) -> None:
    name = "notify-success"
    if not hasattr(backends.queue, "db"):
        from modalkit.backends.aws.sqs_queue import SqsQueue

        assert isinstance(backends.queue, SqsQueue)
        backends.queue.clients.sqs.create_queue(QueueName=name)
    sibling = backends.queue.sibling(name)
    sibling.send('{"job_id": "x"}')
    assert [m.body for m in sibling.receive(1, 1, 30)] == ['{"job_id": "x"}']
    assert backends.queue.receive(1, 0, 30) == []
