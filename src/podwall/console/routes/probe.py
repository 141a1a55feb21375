"""Route for probing a cluster with real packets (editor role: it sends traffic), for the
clusters that have a prober (the lab `podwall up` runs)."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from podwall.console.deps import Caller, Db
from podwall.console.errors import NotFound, Unprocessable
from podwall.console.insight import parse_port
from podwall.console.models import Role
from podwall.console.probes import probe_data
from podwall.console.routes.insight import analysed

__all__ = ["router"]

router = APIRouter(tags=["insight"])
_ONE_AT_A_TIME = threading.Lock()  # a probe floods the cluster's pods; never two at once


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(ge=1, le=65535)
    protocol: str = "TCP"


@router.post("/clusters/{name}/probe")
def probe_cluster(name: str, body: ProbeIn, request: Request, caller: Caller, db: Db) -> dict:
    """Open a real connection between every pod pair on the port; answer what the packets did
    beside what the policies allow (`agree`, `disagreements`)."""
    insight = analysed(db, caller, name, Role.editor)  # 404 unknown cluster, 403 below editor
    prober = request.app.state.probers.get(name)
    if prober is None:
        raise NotFound(f"cluster {name} has no prober: only the lab that `podwall up` runs "
                       "can be probed from the console")
    port = parse_port(body.port, body.protocol)
    if port is None:  # unreachable with a port given; the type checker cannot know
        raise Unprocessable("a port is required")
    with _ONE_AT_A_TIME:
        observed = prober(port)
    return probe_data(insight, observed, port)
