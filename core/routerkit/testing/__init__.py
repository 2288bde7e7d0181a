"""Public test doubles for routerkit users and routerkit's own tests.

`ScriptedClient` is a deterministic in-memory `ModelClient` (scripted answers, recorded calls, scripted
failures); it needs nothing beyond routerkit itself.

`routerkit.testing.upstream` holds a fake OpenAI-compatible upstream (`fake_openai_upstream`) and
`serve_in_thread`, which serves any ASGI app on loopback for the length of a `with` block. Both need
the `server` extra (`pip install "routerkit-core[server]"`); `import routerkit` never imports this
package.
"""

from __future__ import annotations

from routerkit.testing.clients import ScriptedCall, ScriptedClient

__all__ = ["ScriptedCall", "ScriptedClient"]
