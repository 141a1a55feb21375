"""The REST API's routers, one module per resource; `app` mounts them all under /api/v1."""

from podwall.console.routes import audit, clusters, policies, session, users

__all__ = ["ROUTERS"]

ROUTERS = (session.router, users.router, clusters.router, policies.router, audit.router)
