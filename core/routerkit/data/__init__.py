"""The outcome-table format: load and validate, splits, leak checks, battles and score matrices.

The format (documented in `docs/data.md`) is the one of the benchmark bundle and of users' own data:
per dataset a folder with `prompts.jsonl.gz`, `outcomes.csv.gz` and `models.json`.
"""

from routerkit.data.battles import Battles, battles
from routerkit.data.format import OutcomeTable, Prompt, list_datasets, load_dataset
from routerkit.data.splits import check_no_test_leak, held_out_hashes, training_tables
from routerkit.data.write import write_dataset

__all__ = [
    "Battles",
    "OutcomeTable",
    "Prompt",
    "battles",
    "check_no_test_leak",
    "held_out_hashes",
    "list_datasets",
    "load_dataset",
    "training_tables",
    "write_dataset",
]
