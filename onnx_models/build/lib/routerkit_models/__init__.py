"""Model artifacts shipped with routerkit: the MiniLM encoder and trained router heads.

Nothing here is imported by hand: the `routerkit` entry point registers the artifacts, and
`routerkit.load("mf")` finds them through `importlib.resources`.
"""

__version__ = "0.1.0"
