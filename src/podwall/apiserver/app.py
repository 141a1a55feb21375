"""The HTTP edge: URLs, methods, content negotiation and watch streams (a Starlette app).

This module owns the wire: parsing `/api/v1/...` and `/apis/GROUP/VERSION/...` paths into a
resource, namespace and name; choosing JSON or a `meta.k8s.io` Table from `Accept` (kubectl
asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; answers are always JSON, which
kubectl's protobuf clients accept too); decoding bodies (JSON, YAML, or the protobuf of
`kubectl create namespace`) and patch types from `Content-Type`; `Warning` headers;
Status bodies for every error; an optional bearer token; and watches as chunked
newline-delimited JSON, with BOOKMARK events every `bookmark_interval` seconds when
`allowWatchBookmarks=true`, and `sendInitialEvents`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from podwall.apiserver.errors import (
    ApiError,
    BadRequest,
    MethodNotSupported,
    NotAcceptable,
    PathNotFound,
    Unauthorized,
    UnsupportedMediaType,
)
from podwall.apiserver.openapi import openapi_document, openapi_index
from podwall.apiserver.openapi_v2 import openapi_v2
from podwall.apiserver.options import ListOptions, WriteOptions, parse_bool
from podwall.apiserver.protobuf import ProtobufError
from podwall.apiserver.protobuf import decode_object as decode_protobuf
from podwall.apiserver.registry import PATCH_TYPES, Registry
from podwall.apiserver.resources import (
    Resource,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    find_resource,
    version_info,
)
from podwall.apiserver.tables import to_table
from podwall.apiserver.watch import (
    Notifier,
    StreamSettings,
    WatchEvent,
    watch_start,
    watch_stream,
)

__all__ = ["RequestTarget", "create_app", "parse_target"]

_JSON = "application/json"
_PROTOBUF = "application/vnd.kubernetes.protobuf"
_TABLE_VERSIONS = ("v1", "v1beta1")
_DEFAULT_WATCH_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class RequestTarget:
    resource: Resource
    namespace: str | None  # None: all namespaces (or a cluster-scoped kind)
    name: str = ""
    subresource: str = ""


def parse_target(segments: list[str]) -> RequestTarget | dict[str, Any] | None:
    """A path below `/api` or `/apis` as a target, a discovery document, or None (404)."""
    if segments[:1] == ["api"]:
        group, rest = "", segments[1:]
        if not rest:
            return None
    elif segments[:1] == ["apis"] and len(segments) >= 2:
        group, rest = segments[1], segments[2:]
        if not rest:
            return api_group(group) if api_resource_list(group, "v1") else None
    else:
        return None
    version, rest = rest[0], rest[1:]
    if not rest:
        return api_resource_list(group, version)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = find_resource(group, version, rest[0])
    if resource is None or len(rest) > 3 or (namespace is not None and not resource.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if resource.namespaced and name and namespace is None:
        return None
    return RequestTarget(resource, namespace, name, subresource)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"))
    return Response(text + "\n", status, headers=headers, media_type=_JSON)


def _error(err: ApiError) -> Response:
    return _json(err.status(), err.code)


def _table_version(accept: str) -> str | None:
    """The Table version to answer with, if the first acceptable type is a Table."""
    for entry in accept.split(","):
        kind, *params = [p.strip() for p in entry.split(";")]
        args = dict(p.split("=", 1) for p in params if "=" in p)
        if args.get("as") == "Table" and args.get("g") == "meta.k8s.io":
            if args.get("v") in _TABLE_VERSIONS:
                return args["v"]
            continue
        if "as" in args:
            continue  # PartialObjectMetadata and the like: not served, try the next
        if kind in (_JSON, "application/*", "*/*", "application/yaml", _PROTOBUF, ""):
            return None
    raise NotAcceptable("only the following media types are accepted: application/json")


def _query(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


async def _body(request: Request, *, patch: bool = False) -> tuple[Any, str]:
    """The decoded body and, for a PATCH, its patch type."""
    raw = await request.body()
    media = request.headers.get("content-type", _JSON).split(";")[0].strip()
    patch_type = ""
    if patch:
        patch_type = PATCH_TYPES.get(media, "")
        if not patch_type:
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(PATCH_TYPES)}"
            )
    elif media == _PROTOBUF:
        try:
            return decode_protobuf(raw), patch_type
        except ProtobufError as err:
            raise UnsupportedMediaType(f"{err}: send application/json") from err
    elif media not in (_JSON, "application/yaml", "*/*", ""):
        raise UnsupportedMediaType(f'unsupported media type "{media}"')
    try:
        if patch_type == "apply" or media == "application/yaml":
            return yaml.safe_load(raw.decode() or "null"), patch_type
        return json.loads(raw.decode() or "null"), patch_type
    except (ValueError, yaml.YAMLError) as err:
        raise BadRequest(f"error decoding the request body: {err}") from err


def _warnings(warnings: tuple[str, ...]) -> list[tuple[bytes, bytes]]:
    return [(b"warning", f"299 - {json.dumps(w)}".encode()) for w in warnings]


def _with_warnings(response: Response, warnings: tuple[str, ...]) -> Response:
    response.raw_headers.extend(_warnings(warnings))
    return response


class _Handlers:
    """The request handlers, sharing the registry, the clock and the watch settings."""

    def __init__(
        self,
        registry: Registry,
        notifier: Notifier,
        *,
        token: str | None,
        bookmark_interval: float,
        poll_interval: float,
        server_address: Callable[[], str],
    ) -> None:
        self.registry = registry
        self.notifier = notifier
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.poll_interval = poll_interval
        self.server_address = server_address

    def _authorize(self, request: Request) -> None:
        if self.token is None:
            return
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            raise Unauthorized()

    async def simple(self, request: Request) -> Response:
        """Version, discovery roots and OpenAPI: documents that depend on nothing stored."""
        try:
            path = request.url.path.rstrip("/")
            if path in ("/healthz", "/livez", "/readyz"):
                return PlainTextResponse("ok")
            if path == "/version":
                return _json(version_info())
            self._authorize(request)
            if path == "/api":
                return _json(api_versions(self.server_address()))
            if path == "/apis":
                return _json(api_group_list())
            if path == "/openapi/v3":
                return _json(openapi_index())
            if path == "/openapi/v2":
                body, media_type = openapi_v2(request.headers.get("accept", ""))
                return Response(body, media_type=media_type)
            doc = openapi_document(path.removeprefix("/openapi/v3/"))
            if path.startswith("/openapi/v3/") and doc is not None:
                return Response(doc, media_type=_JSON)
            raise PathNotFound()
        except ApiError as err:
            return _error(err)

    async def resource(self, request: Request) -> Response:
        segments = [s for s in request.url.path.split("/") if s]
        if segments in (["api"], ["apis"]):
            return await self.simple(request)
        try:
            self._authorize(request)
            found = parse_target(segments)
            if found is None:
                raise PathNotFound()
            if isinstance(found, dict):
                if request.method != "GET":
                    raise PathNotFound()
                return _json(found)
            if found.subresource:
                raise PathNotFound()
            return await self._dispatch(request, found)
        except ApiError as err:
            return _error(err)

    async def _dispatch(self, request: Request, target: RequestTarget) -> Response:
        res, ns, name = target.resource, target.namespace, target.name
        query = _query(request)
        if request.method == "GET" and name:
            return self._render(request, res, self.registry.get(res, ns or "", name))
        if request.method == "GET":
            opts = ListOptions.parse(res, query)
            if parse_bool(query.get("watch")):
                return self._watch(request, res, ns, opts, query)
            return self._render(request, res, self.registry.list(res, ns, opts), listed=True)
        if request.method == "DELETE":
            options, _ = await _body(request)
            options = options if isinstance(options, dict) else {}
            if query.get("dryRun") == "All":
                options["dryRun"] = ["All"]
            if name:
                return _json(self.registry.delete(res, ns or "", name, options))
            opts = ListOptions.parse(res, query)
            return _json(self.registry.delete_collection(res, ns, opts, options))
        return await self._write(request, target, query)

    async def _write(
        self, request: Request, target: RequestTarget, query: dict[str, str]
    ) -> Response:
        """POST, PUT and PATCH: the stored object, with any Warning headers."""
        res, ns, name, method = target.resource, target.namespace or "", target.name, request.method
        opts = WriteOptions.parse(query, request.headers.get("user-agent", ""))
        status = 200
        if method == "POST" and not name:
            body, _ = await _body(request)
            (obj, warnings), status = self.registry.create(res, ns, body, opts), 201
        elif method == "PUT" and name:
            body, _ = await _body(request)
            obj, warnings = self.registry.update(res, ns, name, body, opts)
        elif method == "PATCH" and name:
            patch, patch_type = await _body(request, patch=True)
            if patch_type == "apply":  # apply names its manager itself: no User-Agent default
                applied = WriteOptions.parse(query)
                obj, warnings, created = self.registry.apply(res, ns, name, patch, applied)
                status = 201 if created else 200
            else:
                obj, warnings = self.registry.patch(res, ns, name, patch_type, patch, opts)
        else:
            raise MethodNotSupported(res.group, res.plural, method.lower())
        return _with_warnings(self._render(request, res, obj, status=status), warnings)

    def _render(
        self,
        request: Request,
        res: Resource,
        body: dict[str, Any],
        *,
        listed: bool = False,
        status: int = 200,
    ) -> Response:
        version = _table_version(request.headers.get("accept", _JSON))
        if version is None or body.get("kind") == "Status":
            return _json(body, status)
        items = body["items"] if listed else [body]
        table = to_table(
            res.kind,
            items,
            self.registry.clock(),
            include_object=request.query_params.get("includeObject", "Metadata"),
            list_meta=body["metadata"] if listed else {
                "resourceVersion": body["metadata"].get("resourceVersion", "")
            },
        )
        table["apiVersion"] = f"meta.k8s.io/{version}"
        return _json(table, status)

    def _watch(
        self,
        request: Request,
        res: Resource,
        ns: str | None,
        opts: ListOptions,
        query: dict[str, str],
    ) -> Response:
        table = _table_version(request.headers.get("accept", _JSON))
        send_initial = parse_bool(query.get("sendInitialEvents"))
        if send_initial and opts.resource_version_match != "NotOlderThan":
            raise BadRequest(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                "resourceVersionMatch to NotOlderThan"
            )
        initial = send_initial or opts.resource_version in ("", "0")
        start = watch_start(self.registry.store, res, ns, opts, initial)
        settings = StreamSettings(
            timeout=float(query.get("timeoutSeconds") or _DEFAULT_WATCH_TIMEOUT),
            bookmarks=parse_bool(query.get("allowWatchBookmarks")),
            bookmark_interval=self.bookmark_interval,
            poll_interval=self.poll_interval,
            initial_end=send_initial,
        )

        def render(event: WatchEvent, first: bool) -> dict[str, Any]:
            if table is None:
                return {"kind": res.kind, "apiVersion": res.api_version, **event.object}
            rows = to_table(res.kind, [event.object], self.registry.clock(), headers=first)
            return {**rows, "apiVersion": f"meta.k8s.io/{table}"}

        stream = watch_stream(
            self.registry.store, self.notifier, res, ns, opts, start, render, settings
        )
        return StreamingResponse(stream, media_type=_JSON)


def create_app(
    registry: Registry,
    *,
    token: str | None = None,
    bookmark_interval: float = 60.0,
    poll_interval: float = 1.0,
    server_address: Callable[[], str] = lambda: "127.0.0.1:6443",
) -> Starlette:
    """The lab API as an ASGI app. Watches wake on the registry's store writes (and poll every
    `poll_interval` seconds, for writes by other processes sharing the database)."""
    notifier = Notifier()
    handlers = _Handlers(
        registry,
        notifier,
        token=token,
        bookmark_interval=bookmark_interval,
        poll_interval=poll_interval,
        server_address=server_address,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        notifier.bind(asyncio.get_running_loop())
        registry.store.subscribe(notifier.notify)
        try:
            yield
        finally:
            notifier.closing = True
            registry.store.unsubscribe(notifier.notify)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/api{rest:path}", handlers.resource, methods=methods),
        Route("/{rest:path}", handlers.simple, methods=methods),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.notifier = notifier
    return app
