# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The flame graph exports, read as their users read them: no tracer and no root needed (make
render; part of make check). The SVG helpers are the end-to-end suite's (tests/e2e), imported
from there; nothing of its root-only session setup is."""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
