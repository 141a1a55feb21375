"""The console: a JSON REST API (and a browser UI) to manage policies across clusters.

`app` builds the application; `deps` what every route needs; `routes` one module per resource;
`auth` who may do what; `clusters` registering and syncing; `policies` listing and validating;
`audit` the history; `db`, `models` and `migrations` the storage; `credentials` passwords and
tokens; `errors` the exception tree.
"""

from podwall.console.app import Console, create_console
from podwall.console.db import DEFAULT_DATABASE
from podwall.console.deps import CSRF_HEADER, SESSION_COOKIE
from podwall.console.errors import ConsoleError

__all__ = ["CSRF_HEADER", "DEFAULT_DATABASE", "SESSION_COOKIE", "Console", "ConsoleError",
           "create_console"]
