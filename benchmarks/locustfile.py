"""Locust users for the load test: reps and CRM plug-ins searching and asking at once.

Each user sends ``POST /v1/search`` and ``POST /v1/ask`` three to one, with a question drawn from
the 170 golden questions (``data/golden/queries.jsonl``), and ``Authorization: Bearer
$SKG_API_KEY`` when that is set. Any status other than 2xx, or a body that is not the expected
JSON, counts as a failure, with the status and the start of the body as its message.

``--questions fresh`` (default) adds a random tag to each question (`` #3fa9c1``), so the
server's cache of query embeddings never answers and every request costs what a new question
costs; ``repeat`` sends the golden questions as they are (after warm-up, all cache hits).

``--think-time`` picks the pacing. Both are closed loops: a user waits for its answer first.

- ``paced`` (default): 0.5-1.5 s between requests, the pace of a CRM plug-in that searches as
  the rep types, or of a rep firing follow-up questions. A rep reading an answer pauses 10-30 s,
  so 20 paced users send what a few hundred reps would at their busiest: the latency a user
  feels on a busy day.
- ``none``: each user sends its next request as soon as its answer arrives. 20 users keep the
  server saturated, so the throughput is the ceiling and the latency is mostly queueing.

Run through ``benchmarks/load_test.py``, which starts the server and reads the CSV; by hand:

    .venv/bin/locust -f benchmarks/locustfile.py --headless -u 20 -r 20 -t 60s \\
        --host http://127.0.0.1:8000 --think-time none
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, constant, events, task

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    json.loads(line)["text"]
    for line in (ROOT / "data" / "golden" / "queries.jsonl").read_text().splitlines()
    if line.strip()
]
TOP_K = 8
PACED = between(0.5, 1.5)
NO_WAIT = constant(0)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument(
        "--think-time",
        choices=["paced", "none"],
        default="paced",
        help="paced: 0.5-1.5 s between a user's requests; none: no wait (the throughput ceiling)",
    )
    parser.add_argument(
        "--questions",
        choices=["fresh", "repeat"],
        default="fresh",
        help="fresh: a random tag on each question, so no cache answers; repeat: as they are",
    )


def _headers() -> dict[str, str]:
    key = os.environ.get("SKG_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


class SalesRep(FastHttpUser):
    """One rep (or one CRM plug-in): mostly searches, sometimes asks for a composed answer."""

    def wait_time(self) -> float:
        pacing = NO_WAIT if self.environment.parsed_options.think_time == "none" else PACED
        return pacing(self)

    def on_start(self) -> None:
        self.headers = _headers()
        self.rng = random.Random()

    @task(3)
    def search(self) -> None:
        self._post("/v1/search", {"query": self._question(), "top_k": TOP_K}, "hits")

    @task(1)
    def ask(self) -> None:
        self._post("/v1/ask", {"question": self._question(), "top_k": TOP_K}, "answer")

    def _question(self) -> str:
        question = self.rng.choice(QUESTIONS)
        if self.environment.parsed_options.questions == "fresh":
            question += f" #{self.rng.getrandbits(24):06x}"
        return question

    def _post(self, path: str, body: dict, expected_field: str) -> None:
        with self.client.post(
            path, json=body, headers=self.headers, catch_response=True
        ) as response:
            if not response.status_code:  # no HTTP answer at all: refused, reset, timed out
                response.failure(f"no response: {response.error!r}")
                return
            if not 200 <= response.status_code < 300:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:300]}")
                return
            try:
                payload = response.json()
            except ValueError:
                response.failure(f"HTTP {response.status_code}, not JSON: {response.text[:300]}")
                return
            if expected_field not in payload:
                response.failure(f"HTTP {response.status_code}, no {expected_field!r} in the body")
