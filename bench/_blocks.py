"""Marked blocks of generated Markdown: each bench script owns the text between its two markers."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(out: Path, start: str, end: str, block: str) -> None:
    """Replace the block of `out` from `start` to `end` (markers included) with `block`, or append it.

    `block` should begin with `start` and end with `end` plus a newline, so that the next run finds it;
    the rest of the page is left as it was.
    """
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    page = out.read_text(encoding="utf-8") if out.exists() else ""
    if pattern.search(page):
        page = pattern.sub(lambda _: block, page, count=1)
    else:
        page = page.rstrip("\n") + ("\n\n" if page else "") + block
    out.write_text(page, encoding="utf-8")
