"""Measuring the intelligence tools on labelled sets: `salesboost eval compliance|stage|knowledge`.

Every call goes through the public path (the runtime of the composition root, `execute` as an admin) on a
temporary SQLite database made for the run. `sets` reads and checks a labelled JSONL set, `metrics` computes
the figures, `report` lays them out as a table or JSON, `runner` owns the runtime and times the calls, one
module per tool (`compliance`, `stage`, `knowledge`) reads its set and measures it, and `measure` picks the tool's
set and runs it. The default sets are the frozen blind
sets under `data/eval/blind/` (docs/evaluation.md).
"""

from salesboost.config import DATA_DIR

BLIND_DIR = DATA_DIR / "eval" / "blind"
