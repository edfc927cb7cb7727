#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A small pre-fork server, the workload cowtrace was made for.

The parent builds a realistic heap (configuration dicts, user records as class instances with
attributes, tag lists, tuples, strings, a template cache: a few hundred thousand objects, tens of
MiB), then forks workers that share it copy-on-write. Each worker runs a full collection first,
then handles requests (short-lived objects, reference cycles: the collector runs by itself)
with a few more explicit full collections, and exits 0. The parent waits for all workers and
exits 0, or 1 if any worker failed.

Automatic collection is off in a worker until its first explicit full collection (the parent
turns it off just before fork), so that this collection is the worker's first and the pages it
copies can be measured exactly with --ground-truth. It is on for all later requests.
The ground-truth line: {"pid", "copied_by_collection" (the first collection), "pages_scanned",
"snapshot_noise", "copied_by_later_collections" (the other explicit ones), "collections",
"automatic_collections", "copied_since_start" (all causes, since the worker's first snapshot),
"copied_pages" (hex addresses of the pages the first collection copied)}; in serve mode only
"pid", "copied_by_collection" (the SIGUSR1 collection), "pages_scanned", "snapshot_noise" and
"copied_pages".

  --freeze-early     the mistake the gate must catch: gc.freeze() made before part of the heap
                     (the template cache) is built, so objects created after it are shared
                     but not frozen
  --freeze           the gc.freeze() recipe: gc.disable() at start, build, gc.freeze(), fork,
                     gc.enable() in the child (after its first explicit collection, see above)
  --serve SECONDS    workers stay up that long serving requests (for attaching), with the
                     collector on; a worker runs a full collection on SIGUSR1 (measured with
                     --ground-truth) and prints "worker pid=<pid> collected"; SIGTERM to the
                     parent stops everything cleanly
  --fork-delay SECS  the parent waits that long (or until SIGUSR1) between build and fork
  --ground-truth F   each worker measures its collections with /proc/self/pagemap (module
                     tests/e2e/pagemap.py, or --pagemap-module) and appends a JSON line to F

Prints "parent pid=<pid>" and, from each worker, "worker pid=<pid>" on stdout.
Runs on CPython 3.8 and later; standard library only.
"""

import argparse
import gc
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PAGEMAP = os.path.join(HERE, os.pardir, "tests", "e2e", "pagemap.py")

# Set by the SIGUSR1 handler: in the parent "fork now", in a serve-mode worker "collect now".
_signalled = False
_stopping = False
_workers = []


def say(line):
    """One line on stdout in one write(): lines of parent, workers and a tracer sharing the
    pipe never mix (print() writes the text and the newline separately when unbuffered)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _on_usr1(signum, frame):
    global _signalled
    _signalled = True


def _on_term(signum, frame):
    global _stopping
    _stopping = True
    for pid in _workers:  # parent: pass it on; worker: the list is empty
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------------------------
# The heap the parent builds and the workers share.


class Record:
    """A user account, as an ORM would load it: an instance with a __dict__."""

    def __init__(self, i):
        self.id = i
        self.name = "user%06d" % i
        self.email = "user%06d@example.com" % i
        self.tags = ["tag%d" % (i % 97), "group%d" % (i % 13), "t%d" % (i % 5)]
        self.location = (i % 360 - 180.0, i % 180 - 90.0)
        self.score = i * 0.5
        self.prefs = {"lang": ("en", "de", "fr")[i % 3], "tz": i % 24, "mail": i % 2 == 0}


class Template:
    """A compiled template: literal text and variable slots."""

    def __init__(self, name, nparts):
        self.name = name
        self.parts = [("text", "<div class=\"%s-%d\">" % (name, k)) if k % 2 == 0
                      else ("var", "field%d" % (k % 7)) for k in range(nparts)]
        self.vars = frozenset(p[1] for p in self.parts if p[0] == "var")

    def render(self, ctx):
        out = []
        for kind, value in self.parts:
            out.append(value if kind == "text" else str(ctx.get(value, "")))
        return "".join(out)


class Response:
    def __init__(self, request, body):
        self.request = request
        self.body = body
        self.headers = {"content-length": len(body), "content-type": "text/html"}


def build_heap(nrecords):
    config = {}
    for s in range(200):
        config["section%d" % s] = {"key%d" % k: ("value%d" % k, k, [k, k + 1]) for k in range(20)}
    records = [Record(i) for i in range(nrecords)]
    by_name = {r.name: r for r in records}
    by_tag = {}
    for r in records:
        by_tag.setdefault(r.tags[0], []).append(r.id)
    templates = {"page%d" % t: Template("page%d" % t, 24) for t in range(2000)}
    return {"config": config, "records": records, "by_name": by_name, "by_tag": by_tag,
            "templates": templates}


def handle_request(heap, i):
    """One request: short-lived dicts, lists, a response object and a reference cycle."""
    records = heap["records"]
    # Most traffic is for a hot set of users (1 in 50, spread over the heap).
    rec = records[(i * 7919) % len(records) // 50 * 50]
    req = {"path": "/user/%s" % rec.name, "query": [("page", i % 10), ("sort", "name")],
           "headers": {"host": "example.com", "accept": "text/html", "x-id": str(i)}}
    ctx = {"field0": rec.name, "field1": rec.email, "field2": rec.score,
           "field3": ",".join(rec.tags), "field4": rec.prefs["lang"],
           "field5": heap["config"]["section%d" % (i % 200)]["key%d" % (i % 20)][0],
           "field6": [(t, len(t)) for t in rec.tags]}
    body = heap["templates"]["page%d" % (i % 2000)].render(ctx)
    resp = Response(req, body)
    req["response"] = resp  # a cycle: only the collector frees it
    return len(body)


# ---------------------------------------------------------------------------------------------
# Workers.


def load_pagemap(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("cowtrace_pagemap", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_result(path, result):
    line = (json.dumps(result) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one O_APPEND write: lines of concurrent workers don't mix
    finally:
        os.close(fd)


def collections_so_far():
    return sum(g["collections"] for g in gc.get_stats())


def worker_batch(args, heap, pagemap):
    """Normal mode: first collection, requests with a few explicit collections, report."""
    window = pagemap.Window() if pagemap else None
    start_collections = collections_so_far()
    collect = gc.collect  # bound now: its refcount write happens outside any window
    first_pages = []
    if window:
        first = window.measure(collect, first_pages)
    else:
        collect()
    gc.enable()
    later = 0
    nlater = max(args.collections - 1, 0)
    step = args.requests // (nlater + 1) if nlater else 0
    for i in range(args.requests):
        handle_request(heap, i)
        if step and (i + 1) % step == 0 and (i + 1) // step <= nlater:
            if window:
                later += window.measure(collect)
            else:
                collect()
    if window:
        explicit = 1 + nlater
        write_result(args.ground_truth, {
            "pid": os.getpid(), "copied_by_collection": first,
            "pages_scanned": window.pages_scanned, "snapshot_noise": window.noise,
            "copied_by_later_collections": later, "collections": explicit,
            "automatic_collections": collections_so_far() - start_collections - explicit,
            "copied_since_start": window.copied_since_start(),
            "copied_pages": ["%x" % a for a in first_pages]})
        window.close()


def worker_serve(args, heap, pagemap):
    """Serve mode: handle requests until the deadline or SIGTERM; collect on SIGUSR1.

    The collector runs by itself here from the start (young collections); a full collection
    happens only on SIGUSR1, measured when --ground-truth is given.
    """
    global _signalled
    window = pagemap.Window() if pagemap else None
    collect = gc.collect
    gc.enable()
    deadline = time.monotonic() + args.serve
    i = 0
    while not _stopping and time.monotonic() < deadline:
        if _signalled:
            _signalled = False
            if window:
                pages = []
                first = window.measure(collect, pages)
                write_result(args.ground_truth, {
                    "pid": os.getpid(), "copied_by_collection": first,
                    "pages_scanned": window.pages_scanned, "snapshot_noise": window.noise,
                    "copied_pages": ["%x" % a for a in pages]})
            else:
                collect()
            say("worker pid=%d collected" % os.getpid())
        for _ in range(50):
            handle_request(heap, i)
            i += 1
        time.sleep(0.01)
    if window:
        window.close()


def run_worker(args, heap, pagemap):
    global _workers
    _workers = []
    code = 0
    try:
        say("worker pid=%d" % os.getpid())
        if args.serve is not None:
            worker_serve(args, heap, pagemap)
        else:
            worker_batch(args, heap, pagemap)
        sys.stdout.flush()
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    os._exit(code)


def main(argv=None):
    global _signalled
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--freeze", action="store_true", help="gc.freeze() before fork")
    p.add_argument("--freeze-early", action="store_true",
                   help="a freeze made too early: gc.freeze() before the template cache is "
                        "built (objects created after it, before fork)")
    p.add_argument("--requests", type=int, default=20000, help="requests per worker")
    p.add_argument("--collections", type=int, default=3,
                   help="explicit full collections per worker (the first one before requests)")
    p.add_argument("--records", type=int, default=60000, help="heap size: user records")
    p.add_argument("--serve", type=float, metavar="SECONDS")
    p.add_argument("--fork-delay", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--ground-truth", metavar="FILE")
    p.add_argument("--pagemap-module", default=DEFAULT_PAGEMAP, metavar="PATH")
    args = p.parse_args(argv)

    # Handlers first: a signal sent as soon as the pid is printed must not kill us.
    signal.signal(signal.SIGUSR1, _on_usr1)
    signal.signal(signal.SIGTERM, _on_term)
    if args.freeze or args.freeze_early:
        gc.disable()
    say("parent pid=%d" % os.getpid())

    pagemap = load_pagemap(args.pagemap_module) if args.ground_truth else None
    heap = build_heap(args.records)
    if args.freeze_early:
        # the mistake: freeze first, then build more (a cache warmed after the hook ran)
        templates = heap.pop("templates")
        gc.freeze()
        heap["templates"] = {k: Template(k, 24) for k in templates}

    deadline = time.monotonic() + args.fork_delay
    while not _signalled and not _stopping and time.monotonic() < deadline:
        time.sleep(0.02)
    _signalled = False

    if args.freeze:
        gc.freeze()
    gc.disable()  # workers start without automatic collection (see the module docstring)
    sys.stdout.flush()
    for _ in range(args.workers):
        if _stopping:
            break
        pid = os.fork()
        if pid == 0:
            run_worker(args, heap, pagemap)
        _workers.append(pid)

    failed = 0
    for pid in list(_workers):
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) or os.WEXITSTATUS(status) != 0:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
