"""The verbs on the store: get, list, create, update, patch, apply, delete, deletecollection.

This module owns the generic registry's rules (upstream `registry/generic/registry.Store` and
the endpoint handlers): resourceVersion preconditions (409 Conflict), no-op updates that keep
their resourceVersion, patch retries on conflict, field ownership on every write, the
namespace lifecycle (objects need an existing namespace; `default`, `kube-system` and
`kube-public` may not be deleted), list resourceVersion semantics (NotOlderThan, Exact, 504
for the future, 410 for the compacted past), label and field selectors, and limit/continue.
Watches are `watch`'s; HTTP framing is the edge's (`app`): this module speaks in dicts and
ApiErrors.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from podwall.apiserver.errors import (
    AlreadyExists,
    BadRequest,
    Compacted,
    Conflict,
    Expired,
    Forbidden,
    Invalid,
    KeyExists,
    KeyNotFound,
    MethodNotSupported,
    NotFound,
    TooLargeResourceVersion,
    Unprocessable,
    VersionConflict,
    status_success,
)
from podwall.apiserver.fields import apply_configuration, record_update
from podwall.apiserver.options import (
    ListOptions,
    WriteOptions,
    check_preconditions,
    decode_continue,
    encode_continue,
    parse_rv,
)
from podwall.apiserver.patch import PatchError, apply_patch
from podwall.apiserver.resources import NAMESPACES, NETWORK_POLICIES, PODS, Resource
from podwall.apiserver.store import Store, object_rv
from podwall.apiserver.strategy import (
    WriteContext,
    check_type_meta,
    prepare_create,
    prepare_update,
    timestamp,
)
from podwall.validation import FieldError, Path

__all__ = ["PATCH_TYPES", "Registry"]

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_UNDELETABLE = ("default", "kube-system", "kube-public")
_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apiserver's names.SimpleNameGenerator alphabet
_PATCH_RETRIES = 5
_APPLIED = object()  # _commit's marker: managedFields already computed by server-side apply


def _strip_rv(body: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    return {**body, "metadata": meta}


class Registry:
    """Every verb of every served resource, over one Store."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        strict_cidr: bool = True,
        new_uid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.store = store
        self.clock = clock
        self.strict_cidr = strict_cidr
        self.new_uid = new_uid

    def _context(self, options: WriteOptions, *, from_patch: bool = False) -> WriteContext:
        return WriteContext(
            now=self.clock(),
            uid=self.new_uid(),
            name_suffix="".join(random.choice(_NAME_CHARS) for _ in range(5)),
            strict_cidr=self.strict_cidr,
            field_validation=options.field_validation,
            from_patch=from_patch,
        )

    # Reads.
    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        found = None if not resource.stored else self.store.get(resource.key, namespace, name)
        if found is None:
            raise NotFound(resource.group, resource.plural, name)
        return found

    def _snapshot(
        self, resource: Resource, namespace: str | None, opts: ListOptions
    ) -> tuple[list[dict[str, Any]], int]:
        if not resource.stored:
            return [], self.store.current_rv()
        items, current = self.store.list(resource.key, namespace)
        if opts.resource_version in ("", "0"):
            return items, current
        asked = parse_rv(opts.resource_version)
        if opts.resource_version_match == "Exact" and asked != current:
            try:
                return self.store.list_at(resource.key, asked, namespace), asked
            except Compacted as err:
                raise Expired("The resourceVersion for the provided list is too old.") from err
        if asked > current:
            raise TooLargeResourceVersion(asked, current)
        return items, current

    def list(
        self, resource: Resource, namespace: str | None, opts: ListOptions
    ) -> dict[str, Any]:
        """A `<Kind>List`; items carry no kind/apiVersion, as upstream lists them."""
        start: tuple[str, str] | None = None
        if opts.continue_token:
            rv_text, start = self._parse_continue(opts.continue_token)
            opts = replace(opts, resource_version=rv_text, resource_version_match="")
        items, rv = self._snapshot(resource, namespace, opts)
        items = [i for i in items if opts.matches(resource, i)]
        if start is not None:
            items = [i for i in items if _item_key(i) > start]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if opts.limit and len(items) > opts.limit:
            meta["remainingItemCount"] = len(items) - opts.limit
            items = items[: opts.limit]
            meta["continue"] = encode_continue(rv, _item_key(items[-1]))
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": meta,
            "items": [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")}
                      for i in items],
        }

    def _parse_continue(self, token: str) -> tuple[str, tuple[str, str]]:
        rv, start = decode_continue(token)
        if rv < self.store.compacted_rv():
            raise Expired(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            )
        return str(rv), start

    # Writes.
    def _require_namespace(self, resource: Resource, namespace: str) -> None:
        if resource.namespaced and self.store.get(NAMESPACES.key, "", namespace) is None:
            raise NotFound("", "namespaces", namespace)

    def create(
        self, resource: Resource, namespace: str, body: Any, options: WriteOptions
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        if "create" not in resource.verbs:
            raise MethodNotSupported(resource.group, resource.plural, "create")
        body = check_type_meta(resource, body, namespace)
        self._require_namespace(resource, namespace)
        prepared = prepare_create(resource, body, self._context(options))
        stamped = record_update(
            None, prepared.body, None, manager=options.field_manager, kind=resource.kind,
            time=timestamp(self.clock()),
        )
        return self._store_new(resource, stamped, options), prepared.warnings

    def _store_new(
        self, resource: Resource, body: dict[str, Any], options: WriteOptions
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if options.dry_run:
            if self.store.get(resource.key, body["metadata"].get("namespace", ""), name):
                raise AlreadyExists(resource.group, resource.plural, name)
            return body
        try:
            return self.store.create(resource.key, body)
        except KeyExists as err:
            raise AlreadyExists(resource.group, resource.plural, name) from err

    def _commit(
        self,
        resource: Resource,
        old: dict[str, Any],
        body: dict[str, Any],
        expect_rv: int,
        options: WriteOptions,
        requested: Any = None,
    ) -> dict[str, Any]:
        """Store an update unless it changes nothing (then the old object, rv unchanged).
        `requested`: the managedFields the request carried (None: computed for the manager),
        or _APPLIED when server-side apply has already computed them into `body`."""
        old_fields = old["metadata"].get("managedFields")
        unchanged = _strip_rv(body) == _strip_rv(old) and requested in (None, _APPLIED,
                                                                         old_fields)
        if not unchanged and requested is not _APPLIED:
            body = record_update(
                old, body, requested, manager=options.field_manager, kind=resource.kind,
                time=timestamp(self.clock()),
            )
        if unchanged or options.dry_run:
            if options.dry_run:
                meta = {**body["metadata"], "resourceVersion": str(object_rv(old))}
                return {**body, "metadata": meta}
            return old
        try:
            return self.store.update(resource.key, body, expect_rv=expect_rv)
        except KeyNotFound as err:
            raise NotFound(resource.group, resource.plural, old["metadata"]["name"]) from err

    def update(
        self, resource: Resource, namespace: str, name: str, body: Any, options: WriteOptions
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """PUT: the whole object; with metadata.resourceVersion, only if still current."""
        if "update" not in resource.verbs:
            raise MethodNotSupported(resource.group, resource.plural, "update")
        body = check_type_meta(resource, body, namespace)
        _check_name(body, name)
        old = self.get(resource, namespace, name)
        asked = str(body["metadata"].get("resourceVersion") or "")
        expect = parse_rv(asked, "metadata.resourceVersion") if asked else object_rv(old)
        if expect != object_rv(old):
            raise Conflict(resource.group, resource.plural, name, _MODIFIED)
        prepared = prepare_update(resource, old, body, self._context(options))
        requested = body["metadata"].get("managedFields")
        try:
            committed = self._commit(resource, old, prepared.body, expect, options, requested)
            return committed, prepared.warnings
        except VersionConflict as err:
            raise Conflict(resource.group, resource.plural, name, _MODIFIED) from err

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        options: WriteOptions,
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """PATCH: applied to the current object and stored as an update, retried when a
        concurrent write intervenes (unless the patch itself names a resourceVersion)."""
        if "patch" not in resource.verbs:
            raise MethodNotSupported(resource.group, resource.plural, "patch")
        for attempt in range(_PATCH_RETRIES):
            old = self.get(resource, namespace, name)
            patched = self._patched(resource, old, patch_type, patch)
            patched = check_type_meta(resource, patched, namespace)
            _check_name(patched, name)
            asked = str(patched["metadata"].get("resourceVersion") or "")
            if asked and parse_rv(asked, "metadata.resourceVersion") != object_rv(old):
                raise Conflict(resource.group, resource.plural, name, _MODIFIED)
            ctx = self._context(options, from_patch=True)
            prepared = prepare_update(resource, old, patched, ctx)
            requested = patched["metadata"].get("managedFields")
            try:
                committed = self._commit(
                    resource, old, prepared.body, object_rv(old), options, requested
                )
                return committed, prepared.warnings
            except VersionConflict as err:
                if asked or attempt == _PATCH_RETRIES - 1:
                    raise Conflict(resource.group, resource.plural, name, _MODIFIED) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def apply(
        self, resource: Resource, namespace: str, name: str, applied: Any, options: WriteOptions
    ) -> tuple[dict[str, Any], tuple[str, ...], bool]:
        """Server-side apply (`application/apply-patch+yaml`): (object, warnings, created)."""
        if not options.field_manager:
            raise Invalid("meta.k8s.io", "PatchOptions", "", [
                FieldError.required(Path("fieldManager"), "is required for apply patch")
            ])
        applied = check_type_meta(resource, applied, namespace)
        _check_name(applied, name)
        old = None if not resource.stored else self.store.get(resource.key, namespace, name)
        if old is None and "create" not in resource.verbs:
            raise NotFound(resource.group, resource.plural, name)
        merged = apply_configuration(
            old, applied, manager=options.field_manager, kind=resource.kind,
            force=options.force, time=timestamp(self.clock()),
        )
        fields = merged["metadata"].get("managedFields")
        ctx = self._context(options, from_patch=True)
        if old is None:
            self._require_namespace(resource, namespace)
            prepared = prepare_create(resource, merged, ctx)
            body = _with_managed(prepared.body, fields)
            return self._store_new(resource, body, options), prepared.warnings, True
        prepared = prepare_update(resource, old, merged, ctx)
        body = _with_managed(prepared.body, fields)
        try:
            committed = self._commit(resource, old, body, object_rv(old), options, _APPLIED)
        except VersionConflict as err:
            raise Conflict(resource.group, resource.plural, name, _MODIFIED) from err
        return committed, prepared.warnings, False

    def _patched(
        self, resource: Resource, old: dict[str, Any], patch_type: str, patch: Any
    ) -> dict[str, Any]:
        try:
            return apply_patch(old, patch_type, patch, resource.kind)
        except PatchError as err:
            if err.status == 400:
                raise BadRequest(str(err)) from err
            # NewGenericServerResponse(422, ...): the patch's own error is not passed on.
            raise Unprocessable(
                "the server rejected our request due to an error in our request", {}
            ) from err

    def delete(
        self, resource: Resource, namespace: str, name: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """DELETE: Status for NetworkPolicies; the namespace, as it was, for Namespaces."""
        if "delete" not in resource.verbs:
            raise MethodNotSupported(resource.group, resource.plural, "delete")
        old = self.get(resource, namespace, name)
        check_preconditions(resource, old, options.get("preconditions") or {})
        if resource is NAMESPACES:
            return self._delete_namespace(old, dry_run=_is_dry_run(options))
        if not _is_dry_run(options):
            try:
                self.store.delete(resource.key, namespace, name, expect_rv=object_rv(old))
            except (KeyNotFound, VersionConflict) as err:
                raise Conflict(resource.group, resource.plural, name, _MODIFIED) from err
        return status_success(resource.group, resource.plural, name, old["metadata"]["uid"])

    def _delete_namespace(self, old: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
        name = old["metadata"]["name"]
        if name in _UNDELETABLE:
            raise Forbidden("", "namespaces", name, "this namespace may not be deleted")
        if self.store.list(PODS.key, name)[0]:
            raise Forbidden(
                "", "namespaces", name,
                "the lab's topology has pods in this namespace, so it may not be deleted",
            )
        if not dry_run:
            for policy in self.store.list(NETWORK_POLICIES.key, name)[0]:
                self.store.delete(NETWORK_POLICIES.key, name, policy["metadata"]["name"])
            self.store.delete(NAMESPACES.key, "", name)
        meta = {**old["metadata"], "deletionTimestamp": timestamp(self.clock())}
        return {**old, "metadata": meta, "status": {"phase": "Terminating"}}

    def delete_collection(
        self, resource: Resource, namespace: str | None, opts: ListOptions, options: dict
    ) -> dict[str, Any]:
        if "deletecollection" not in resource.verbs:
            raise MethodNotSupported(resource.group, resource.plural, "deletecollection")
        listed = self.list(resource, namespace, replace(opts, limit=0, continue_token=""))
        for item in listed["items"]:
            if not _is_dry_run(options):
                meta = item["metadata"]
                self.store.delete(resource.key, meta.get("namespace", ""), meta["name"])
        return listed


def _check_name(body: dict[str, Any], name: str) -> None:
    found = body["metadata"].get("name", "")
    if found != name:
        raise BadRequest(
            f"the name of the object ({found}) does not match the name on the URL ({name})"
        )


def _with_managed(body: dict[str, Any], fields: Any) -> dict[str, Any]:
    meta = {k: v for k, v in body["metadata"].items() if k != "managedFields"}
    if fields:
        meta["managedFields"] = fields
    return {**body, "metadata": meta}


def _item_key(item: dict[str, Any]) -> tuple[str, str]:
    """The store's list order: namespace, then name."""
    meta = item["metadata"]
    return meta.get("namespace", ""), meta["name"]


def _is_dry_run(options: dict[str, Any]) -> bool:
    return "All" in (options.get("dryRun") or [])
