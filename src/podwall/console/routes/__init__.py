"""The REST API's routers, one module per resource; `app` mounts them all under /api/v1."""

from podwall.console.routes import audit, clusters, inventory, policies, session, users
from podwall.console.routes import history as history_routes
from podwall.console.routes import insight as insight_routes
from podwall.console.routes import probe as probe_routes
from podwall.console.routes import writes as write_routes

__all__ = ["ROUTERS"]

ROUTERS = (session.router, users.router, clusters.router, policies.router, audit.router,
           inventory.router, write_routes.router, history_routes.router,
           insight_routes.router, probe_routes.router)
