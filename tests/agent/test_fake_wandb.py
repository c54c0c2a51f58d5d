"""The fake W&B itself: what it does not know is recorded (and fails the agent tests), it
answers the operations it knows, and it wants the API key."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest

from .conftest import API_KEY, QUEUE
from .fake_wandb import OPERATIONS, FakeWandb


@pytest.fixture
def fake():
    fake = FakeWandb(API_KEY, (QUEUE,)).start()
    yield fake
    fake.stop()


def graphql(fake: FakeWandb, query: str, variables: dict | None = None, key: str = API_KEY) -> dict:
    request = urllib.request.Request(
        f"{fake.url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return {"status": error.code}


def test_an_unknown_operation_is_recorded_and_answered_with_an_error(fake) -> None:
    answer = graphql(fake, "query SomethingNew { newField }")
    assert answer["errors"] and "SomethingNew" in answer["errors"][0]["message"]
    assert fake.unknown == ["SomethingNew"]


def test_the_queue_hands_out_each_item_once(fake) -> None:
    item = fake.push(QUEUE, {"entity": "e", "project": "p"})
    pop = "mutation popFromRunQueue($queueName: String!) { popFromRunQueue(input: {queueName: $queueName}) { runQueueItemId } }"
    first = graphql(fake, pop, {"queueName": QUEUE})["data"]["popFromRunQueue"]
    assert first == {"runQueueItemId": item.id, "runSpec": {"entity": "e", "project": "p"}}
    assert graphql(fake, pop, {"queueName": QUEUE})["data"]["popFromRunQueue"] is None
    assert not fake.unknown and "popFromRunQueue" in OPERATIONS


def test_a_wrong_api_key_is_refused(fake) -> None:
    assert graphql(fake, "query Viewer { viewer { id } }", key="wrong")["status"] == 401
    assert fake.unauthorized == ["POST /graphql"]
