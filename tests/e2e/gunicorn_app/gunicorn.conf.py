# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The gc.freeze() recipe for gunicorn --preload (gunicorn#1640): once the app is loaded, collect
# what is garbage already, then freeze right before each fork, so that every object the master
# made is in the permanent generation when a worker starts. COWTRACE_FREEZE=none leaves it out;
# =early freezes in the app itself, too soon (app.py).
import gc
import os

MODE = os.environ.get("COWTRACE_FREEZE", "recipe")


def when_ready(server):
    if MODE == "recipe":
        gc.collect()


def pre_fork(server, worker):
    if MODE == "recipe":
        gc.freeze()
