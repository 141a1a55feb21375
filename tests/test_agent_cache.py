"""The agent's object cache: what counts as a change, and when it may be synced."""

from __future__ import annotations

import pytest

from podwall.agent import Cache


def pod(name: str, version: str, **labels: str) -> dict:
    meta = {"name": name, "namespace": "x", "resourceVersion": version, "labels": labels}
    return {"metadata": meta, "spec": {}}


LISTED = [pod("a", "1"), pod("b", "2")]

EVENTS = {
    "a new object is a change": ("ADDED", pod("c", "3"), True, 3),
    "a newer version of an object is a change": ("MODIFIED", pod("a", "3", v="2"), True, 2),
    "the version already cached is no change (a replayed event)": ("MODIFIED", pod("a", "1"),
                                                                  False, 2),
    "deleting a cached object is a change": ("DELETED", pod("a", "4"), True, 1),
    "deleting an unknown object is no change": ("DELETED", pod("z", "4"), False, 2),
}


@pytest.mark.parametrize(("event", "obj", "changed", "count"), EVENTS.values(), ids=list(EVENTS))
def test_watch_events(event: str, obj: dict, changed: bool, count: int) -> None:
    cache = Cache()
    cache.replace("Pod", LISTED, "2")
    generation = cache.snapshot().generation
    assert cache.apply("Pod", event, obj) is changed
    snapshot = cache.snapshot()
    assert (snapshot.generation > generation) is changed
    assert sum(1 for m in snapshot.manifests if m["kind"] == "Pod") == count
    assert cache.resource_version("Pod") == obj["metadata"]["resourceVersion"]


RELISTS = {
    "the same objects at the same versions: no change": ([pod("a", "1"), pod("b", "2")], False),
    "an object deleted while disconnected: a change": ([pod("a", "1")], True),
    "an object modified while disconnected: a change": ([pod("a", "5"), pod("b", "2")], True),
}


@pytest.mark.parametrize(("items", "changed"), RELISTS.values(), ids=list(RELISTS))
def test_relist_replaces_the_kind(items: list[dict], changed: bool) -> None:
    cache = Cache()
    cache.replace("Pod", LISTED, "2")
    kept = cache.snapshot().manifests
    assert cache.replace("Pod", items, "9") is changed
    assert cache.resource_version("Pod") == "9"
    if not changed:  # unchanged objects keep their identity: the view decodes them once
        assert all(a is b for a, b in zip(kept, cache.snapshot().manifests, strict=True))


def test_manifests_get_their_kind_and_api_version() -> None:
    cache = Cache()
    cache.replace("NetworkPolicy", [{"metadata": {"name": "p", "namespace": "x"}}], "1")
    (policy,) = cache.snapshot().manifests
    assert (policy["kind"], policy["apiVersion"]) == ("NetworkPolicy", "networking.k8s.io/v1")


def test_synced_once_every_kind_was_listed_live_while_every_watch_is() -> None:
    cache = Cache()
    for kind in ("Namespace", "Pod"):
        cache.replace(kind, [], "1")
    assert not cache.snapshot().synced
    cache.replace("NetworkPolicy", [], "1")
    assert cache.snapshot().synced and cache.snapshot().live
    cache.set_live("Pod", False)
    assert cache.snapshot().synced and not cache.snapshot().live
    cache.bookmark("Pod", "7")
    assert cache.resource_version("Pod") == "7"
