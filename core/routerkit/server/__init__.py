"""routerkit's OpenAI-compatible routing server (extra `server`; run it with `routerkit serve`).

`POST /v1/chat/completions` routes each request with a routerkit router and relays it to the chosen
upstream OpenAI-compatible endpoint (retrying, then falling back to the other candidates); `GET
/v1/models`, `GET /health` and `GET /metrics` (Prometheus) come with it. See docs/server.md.

Names are imported lazily: `ServerConfig` and `load_config` need only pydantic and PyYAML, while
`create_app` needs fastapi and httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

_EXPORTS = {
    "ServerConfig": "routerkit.server.config",
    "create_app": "routerkit.server.app",
    "load_config": "routerkit.server.config",
}

__all__ = ["ServerConfig", "create_app", "load_config"]

if TYPE_CHECKING:
    from routerkit.server.app import create_app
    from routerkit.server.config import ServerConfig, load_config

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
