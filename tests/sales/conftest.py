"""The tool tests in the folders below import `harness` and `customer_harness` from this folder.

pytest puts only a test file's own folder on sys.path (the test folders are not packages), so this one is
added here, once, for all of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
