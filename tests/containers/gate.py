#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Run a workload script in an interpreter that was already running: once SIGUSR1 comes.

    gate.py SCRIPT [ARGS...]

Prints "gate pid=<pid>" (the pid in the process's own pid namespace), waits for SIGUSR1, then
runs SCRIPT as __main__ with ARGS, its directory first on sys.path, as `python SCRIPT ARGS`
would. tests/containers attaches `cowtrace -p` in between: the interpreter is mapped and running
when the tracer first sees it, and all the workload does happens after. Standard library only.
"""

import os
import runpy
import signal
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gate.py SCRIPT [ARGS...]")
    # blocked before the pid is printed: a SIGUSR1 sent as soon as it is read waits for sigwait
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    sys.stdout.write("gate pid=%d\n" % os.getpid())
    sys.stdout.flush()
    signal.sigwait({signal.SIGUSR1})
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
