"""The watcher's protocol with a scripted API: pagination, resuming, 410 Gone, broken streams.

The watcher runs in the test's thread; the scripted API stops it once its script is played,
and a zero backoff keeps it from waiting. The real API server is exercised in test_agent_e2e.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from urllib3.exceptions import ProtocolError

from podwall.agent import AgentMetrics, Backoff, Cache
from podwall.agent.kube import ApiException
from podwall.agent.watch import Watcher


def ns(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": version}}


class Stream:
    """A watch response: lines, then the end (or an error, like a reset connection)."""

    def __init__(self, events: list[dict[str, Any]], error: Exception | None = None) -> None:
        self.events, self.error = events, error

    def stream(self, decode_content: bool = True) -> Iterator[bytes]:
        body = b"".join(json.dumps(e).encode() + b"\n" for e in self.events)
        yield from (body[i:i + 7] for i in range(0, len(body), 7))  # lines split across chunks
        if self.error is not None:
            raise self.error

    def release_conn(self) -> None:
        return None


class ScriptedApi:
    kind = "Namespace"

    def __init__(self, script: list[Any], stop: threading.Event) -> None:
        self.script, self.stop = list(script), stop
        self.calls: list[str] = []

    def _next(self, call: str) -> Any:
        self.calls.append(call)
        if not self.script:
            pytest.fail(f"unexpected {call} after the script ended")
        answer = self.script.pop(0)
        if not self.script:
            self.stop.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def list_page(self, token: str = "") -> dict[str, Any]:
        return self._next(f"list {token}".strip())

    def watch(self, resource_version: str, timeout: int) -> Stream:
        return self._next(f"watch {resource_version}")


def page(version: str, *items: dict[str, Any], more: str = "") -> dict[str, Any]:
    meta = {"resourceVersion": version, **({"continue": more} if more else {})}
    return {"metadata": meta, "items": list(items)}


def gone(status: int = 410) -> ApiException:
    return ApiException(status=status, reason="Gone" if status == 410 else "Error")


BOOKMARK = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}
EXPIRED = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}

CASES = {
    "list pages are joined, then the watch starts at the list's version": (
        [page("5", ns("a", "3"), more="t1"), page("5", ns("b", "4")), Stream([BOOKMARK])],
        ["list", "list t1", "watch 5"], {"a", "b"}, 0,
    ),
    "a watch the server ended resumes from the last bookmark": (
        [page("5", ns("a", "3")), Stream([BOOKMARK]), Stream([BOOKMARK])],
        ["list", "watch 5", "watch 9"], {"a"}, 0,
    ),
    "events update the cache and move the version on": (
        [page("5", ns("a", "3")),
         Stream([{"type": "ADDED", "object": ns("b", "6")},
                 {"type": "DELETED", "object": ns("a", "7")}]),
         Stream([BOOKMARK])],
        ["list", "watch 5", "watch 7"], {"b"}, 0,
    ),
    "an expired version (an ERROR event) makes it list again, without an error": (
        [page("5", ns("a", "3")), Stream([EXPIRED]), page("12", ns("c", "11")), Stream([BOOKMARK])],
        ["list", "watch 5", "list", "watch 12"], {"c"}, 0,
    ),
    "an expired version (HTTP 410 on the watch) makes it list again": (
        [page("5", ns("a", "3")), gone(), page("12"), Stream([BOOKMARK])],
        ["list", "watch 5", "list", "watch 12"], set(), 0,
    ),
    "an expired continue token restarts the list": (
        [page("5", ns("a", "3"), more="t1"), gone(), page("6", ns("a", "3")), Stream([BOOKMARK])],
        ["list", "list t1", "list", "watch 6"], {"a"}, 0,
    ),
    "a broken stream counts an error and lists again (to see deletions it missed)": (
        [page("5", ns("a", "3")), Stream([], ProtocolError("Response ended prematurely")),
         page("8"), Stream([BOOKMARK])],
        ["list", "watch 5", "list", "watch 8"], set(), 1,
    ),
    "an unreachable API: the list is retried": (
        [ConnectionRefusedError(), gone(503), page("5", ns("a", "3")), Stream([BOOKMARK])],
        ["list", "list", "list", "watch 5"], {"a"}, 2,
    ),
}


@pytest.mark.parametrize(("script", "calls", "names", "errors"), CASES.values(), ids=list(CASES))
def test_watcher(script: list[Any], calls: list[str], names: set[str], errors: int) -> None:
    stop = threading.Event()
    api = ScriptedApi(script, stop)
    cache = Cache(["Namespace"])
    metrics = AgentMetrics(lambda: 0.0)
    changes: list[int] = []
    watcher = Watcher(api, cache, lambda: changes.append(1), metrics=metrics,  # type: ignore[arg-type]
                      log=logging.getLogger("test.agent.watch"), stop=stop,
                      backoff=Backoff(initial=0.0))
    watcher.run()
    assert api.calls == calls
    assert {m["metadata"]["name"] for m in cache.snapshot().manifests} == names
    failed = sum(metrics.registry.get_sample_value("podwall_agent_errors_total", {"kind": k})
                 or 0 for k in ("list", "watch"))
    assert failed == errors
    assert changes, "a list always marks the state dirty"


def test_a_failure_marks_the_kind_not_live_until_it_is_listed_again() -> None:
    stop = threading.Event()
    cache = Cache(["Namespace"])
    seen: list[bool] = []

    class Api(ScriptedApi):
        def list_page(self, token: str = "") -> dict[str, Any]:
            seen.append(cache.snapshot().live)
            return super().list_page(token)

    api = Api([page("5"), Stream([], ProtocolError("reset")), page("6")], stop)
    Watcher(api, cache, lambda: None, metrics=AgentMetrics(lambda: 0.0),  # type: ignore[arg-type]
            log=logging.getLogger("test.agent.watch"), stop=stop,
            backoff=Backoff(initial=0.0)).run()
    assert seen == [False, False]  # before the first list, and after the failure
    assert cache.snapshot().live


class Recorder:
    """A backoff that waits not at all and records the failure counts it was asked about."""

    def __init__(self) -> None:
        self.failures: list[int] = []

    def delay(self, failures: int) -> float:
        self.failures.append(failures)
        return 0.0


RESET = ProtocolError("Connection reset by peer")
BACKOFF = {
    "a watch that fails at once after every list keeps backing off": (
        [page("5"), RESET, page("5"), RESET, page("5"), Stream([BOOKMARK])], [1, 2]),
    "a watch that delivered events starts the count again when it breaks": (
        [page("5"), Stream([BOOKMARK], RESET), page("9"), Stream([BOOKMARK], RESET), page("9"),
         Stream([BOOKMARK])], [1, 1]),
    "an outage after a working watch: lists back off from the first failure": (
        [page("5"), Stream([BOOKMARK], RESET), ConnectionRefusedError(),
         ConnectionRefusedError(), page("9"), Stream([BOOKMARK])], [1, 2, 3]),
}


@pytest.mark.parametrize(("script", "failures"), BACKOFF.values(), ids=list(BACKOFF))
def test_watcher_backoff(script: list[Any], failures: list[int]) -> None:
    stop = threading.Event()
    recorder = Recorder()
    Watcher(ScriptedApi(script, stop), Cache(["Namespace"]), lambda: None,  # type: ignore[arg-type]
            metrics=AgentMetrics(lambda: 0.0), log=logging.getLogger("test.agent.watch"),
            stop=stop, backoff=recorder).run()  # type: ignore[arg-type]
    assert recorder.failures == failures
