# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A WSGI app as gunicorn --preload loads it: a heap of records and a template cache built at
import, in the master, shared with the workers. Each request reads a record and runs a full
collection (so every worker collects while traced).

COWTRACE_FREEZE=early makes the mistake the staging gate must catch: gc.freeze() before the
template cache is built. The right recipe is in gunicorn.conf.py (pre_fork)."""

import gc
import os


class Record:
    def __init__(self, i):
        self.id = i
        self.name = "user%06d" % i
        self.tags = ["t%d" % (i % 17), "t%d" % (i % 5)]
        self.prefs = {"lang": "en", "n": i}


RECORDS = [Record(i) for i in range(40000)]
if os.environ.get("COWTRACE_FREEZE") == "early":
    gc.freeze()
TEMPLATES = {"page%d" % t: [("text", "<p>%d</p>" % k) for k in range(16)] for t in range(3000)}


def app(environ, start_response):
    rec = RECORDS[hash(environ.get("PATH_INFO", "")) % len(RECORDS)]
    gc.collect()
    body = ("%s %d %d\n" % (rec.name, len(rec.tags), len(TEMPLATES))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
