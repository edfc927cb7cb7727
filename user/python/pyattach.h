/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Finding CPython interpreters in traced processes and attaching the collection probes to each
 * interpreter file once: USDT python:gc__start/gc__done where the binary has them, else uprobes on
 * the collector function. Probes are attached for every process that maps the file (pid -1): a
 * worker forked later or a process started later from the same binary is covered without a new
 * attach; the BPF side ignores processes that are not traced.
 */
#ifndef COWTRACE_PYATTACH_H
#define COWTRACE_PYATTACH_H

#include <stdbool.h>
#include <sys/types.h>
#include "pyframes.h"
#include "pyinterp.h"
#include "pylayout.h"

struct cowtrace_bpf;
struct bpf_link;

struct py_binding {
	struct py_interp interp;
	dev_t dev;
	ino_t ino;
	char path[256];	    /* as the process names it (in its own root), for messages */
	char version[16];   /* "3.11.2" */
	char gc_source[80]; /* "usdt", "uprobe:gc_collect_main", "none" (and why, in the warning) */
	struct bpf_link *links[4]; /* entry and return of gc_func, then of gc_func2 */
	/*
	 * How to read this interpreter's memory, once per file: from the version's table, and
	 * from 3.13 on from the interpreter's own _Py_DebugOffsets (pyframes.h, pylayout.h).
	 * NULL when unknown: then its copies are counted but not decoded, or have no stacks.
	 */
	const struct py_frame_offsets *frames;
	const struct py_layout *layout;
	struct py_frame_offsets frames_buf;
	struct py_layout layout_buf;
};

struct pyattach;

struct pyattach *pyattach_new(struct cowtrace_bpf *skel);
void pyattach_free(struct pyattach *pa); /* detaches everything */

/* stop(arg) is asked before each file not looked at yet: true when the run is ending, so that
 * a target mapping many large files cannot hold up -d or Ctrl-C (each read is bounded too:
 * PROCFS_ELF_READ_MAX) */
void pyattach_set_stop(struct pyattach *pa, bool (*stop)(void *arg), void *arg);

/* Looks through pid's mappings for a CPython interpreter; attaches its probes if new. Returns the
 * binding, or NULL when pid runs no CPython (or is gone). */
const struct py_binding *pyattach_scan_pid(struct pyattach *pa, int pid);
/* The same for a file about to be executed (COMMAND, or the interpreter of its #! line). */
const struct py_binding *pyattach_file(struct pyattach *pa, const char *path);

/* Where _PyRuntime is in pid's memory (the file's load bias applied), 0 when unknown. */
unsigned long pyattach_runtime_addr(int pid, const struct py_binding *b);

#endif
