"""`/openapi/v2` for kubectl older than OpenAPI v3 (Debian's kubernetes-client is 1.20).

Such a kubectl fetches /openapi/v2 before `apply` validates, and stops with NotFound without it.
The lab serves a document with no definitions: kubectl finds no schema for the kind, skips its
client-side check as it does for any kind it does not know, and the server validates (with the
API server's messages, as ever). kubectl asks for gnostic's protobuf `openapi_v2.Document`
(fields `swagger` = 1, `info` = 2; Info: `title` = 1, `version` = 2), served under
kube-openapi's media type (Go's mime parser refuses the `@` of the one kubectl asks for);
anyone else gets JSON.
"""

from __future__ import annotations

import json

from podwall.apiserver.protobuf import encode_field

__all__ = ["PROTOBUF", "openapi_v2"]

PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what kubectl accepts
_PROTOBUF_SERVED = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"  # kube-openapi's
_TITLE, _VERSION = "podwall lab", "v1"


def openapi_v2(accept: str) -> tuple[bytes, str]:
    """The document and its media type, protobuf when `accept` names it."""
    if PROTOBUF in accept or _PROTOBUF_SERVED in accept:
        info = encode_field(1, _TITLE) + encode_field(2, _VERSION)
        return encode_field(1, "2.0") + encode_field(2, info), _PROTOBUF_SERVED
    document = {"swagger": "2.0", "info": {"title": _TITLE, "version": _VERSION}, "paths": {}}
    return json.dumps(document).encode(), "application/json"
