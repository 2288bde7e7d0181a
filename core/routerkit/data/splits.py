"""Split discipline: gather the test hashes of every dataset and refuse to train on any of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import DataLeakError

__all__ = ["check_no_test_leak", "held_out_hashes", "training_tables"]


def held_out_hashes(tables: Iterable[OutcomeTable]) -> frozenset[str]:
    """Question hashes that sit in the `test` split of any of `tables`."""
    return frozenset(p.hash for table in tables for p in table.prompts if p.split == "test")


def check_no_test_leak(table: OutcomeTable, forbidden: frozenset[str]) -> None:
    """Raise if any prompt of `table` has a hash in `forbidden` (a test split).

    Raises:
        DataLeakError: naming how many prompts leak and the first few ids.
    """
    leaked = [p.id for p in table.prompts if p.hash in forbidden]
    if leaked:
        shown = ", ".join(repr(i) for i in leaked[:5])
        raise DataLeakError(
            f"Refusing to train on {len(leaked)} prompt(s) of {table.name!r} whose question hash is in "
            f"a test split (first: {shown}). Remove them from the training data or mark them `test`."
        )


def training_tables(names: Sequence[str], *, split: str = "train") -> list[OutcomeTable]:
    """Load `names`, keep `split` of each, and check none of it is a test question anywhere.

    Every dataset of the data directory contributes its test hashes, so a question that is `test` in
    one dataset cannot be trained on through another.

    Raises:
        DataLeakError: if a kept prompt's hash is in any loaded test split.
    """
    from routerkit.data.format import list_datasets

    full = {name: load_dataset(name) for name in names}
    others = [load_dataset(n) for n in list_datasets() if n not in full]
    forbidden = held_out_hashes([*full.values(), *others])
    kept = [table.split(split) for table in full.values()]
    for table in kept:
        check_no_test_leak(table, forbidden)
    return kept
