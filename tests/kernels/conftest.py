# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The kernel matrix's wall times, after pytest's summary (test_kernels.py writes them)."""
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "build" / "kernels"


def pytest_terminal_summary(terminalreporter):
    lines = [p.read_text().rstrip() for p in sorted(RESULTS.glob("*.timing"))]
    if lines:
        terminalreporter.write_sep("-", "kernel matrix wall times (boot_s: until the tests began)")
        for line in lines:
            terminalreporter.write_line(line)
