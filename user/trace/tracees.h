/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The traced process tree as user space sees it: marking processes traced (the root and the
 * descendants that exist at start; BPF adds the ones forked later), and what only user space can
 * learn about each slot: command line and CPython interpreter.
 */
#ifndef COWTRACE_TRACEES_H
#define COWTRACE_TRACEES_H

#include <stdbool.h>
#include "procfs.h"
#include "pyattach.h"

struct cowtrace_bpf;

struct tracee {
	char *cmdline;			 /* NULL until read */
	char *cgroup;			 /* cgroup v2 path (a container's), NULL unknown */
	int ns_pid;			 /* the pid in its own pid namespace, 0 unknown */
	bool root_is_worker;		 /* -p of a worker: its parent runs the same program */
	struct proc_mem mem;		 /* the last sample of its memory (smaps_rollup) */
	unsigned long long mem_ns;	 /* when it was taken; 0: never */
	bool cmdline_preset;		 /* set from COMMAND's argv before its exec */
	const struct py_binding *python; /* NULL: not CPython (or not yet seen) */
	unsigned int scans_left;	 /* interpreter re-scans still due after an exec */
	unsigned long long next_scan_ns;
	bool thread_bias_guessed;	 /* its libc was not mapped yet (user/python/pythread.h) */
};

struct tracees {
	struct cowtrace_bpf *skel;
	struct pyattach *pa;
	struct tracee *slots; /* COWTRACE_MAX_SLOTS */
	bool stacks;	      /* tell BPF how to walk Python stacks */
	bool any_python;      /* some traced process runs CPython (tracees_role()) */
	/* the BPF maps procs, counts, pool_shifts and py_stack_cfgs, mmapped (bpf/state.bpf.h) */
	struct cow_proc_info *procs;
	const struct cow_proc_counts *counts;
	__u64 *pool_shifts;
	struct cow_stack_cfg *stack_cfgs;
	size_t procs_len, counts_len, pool_shifts_len, stack_cfgs_len;
};

/* A slot's role (enum proc_role), from the tree and what the process runs (see cowtrace.h). */
unsigned int tracees_role(const struct tracees *t, unsigned int slot);
const char *cow_role_name(unsigned int role);

/* A slot's identity and counters, read from the maps' memory. */
struct cow_proc_info tracees_proc_info(const struct tracees *t, unsigned int slot);
struct cow_proc_counts tracees_counts(const struct tracees *t, unsigned int slot);

int tracees_init(struct tracees *t, struct cowtrace_bpf *skel, struct pyattach *pa);
void tracees_free(struct tracees *t);

/* Marks pid traced with the given role; returns its slot or -errno (-ESRCH: it is gone). */
int tracees_add(struct tracees *t, int pid, unsigned int role, unsigned int parent_slot);
/* pid and all its current descendants; -ESRCH when pid does not exist. */
int tracees_add_tree(struct tracees *t, int pid);

/* The command line a slot runs, when user space knows it better than /proc (COMMAND). */
void tracees_set_cmdline(struct tracees *t, int slot, char *const argv[]);

/* Events from the BPF side. */
void tracees_on_fork(struct tracees *t, unsigned int slot, int pid);
void tracees_on_exec(struct tracees *t, unsigned int slot, int pid, unsigned long long now_ns);
/* Re-scans that are due (an exec'd program maps libpython some time after exec). */
void tracees_tick(struct tracees *t, unsigned long long now_ns);
/* When the next re-scan is due (CLOCK_MONOTONIC ns), 0 when none is. */
unsigned long long tracees_next_scan(const struct tracees *t);
/* No traced process is alive any more. */
bool tracees_all_exited(const struct tracees *t);
/* Samples the memory (RSS, PSS, USS) of every process alive. */
void tracees_sample_memory(struct tracees *t, unsigned long long now_ns);
/* Marks exited the processes that are gone while BPF still has them alive. */
void tracees_check_exits(struct tracees *t, unsigned long long now_ns);
/* Slots in use so far. */
unsigned int tracees_nslots(const struct tracees *t);

unsigned long long monotonic_ns(void);

#endif
