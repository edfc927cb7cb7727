// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cowtrace.skel.h"
#include "cowtrace.h"
#include "log.h"
#include "procfs.h"
#include "pyframes.h"
#include "pythread.h"
#include "tracees.h"

#define CMDLINE_MAX 4096
/*
 * After an exec the dynamic loader maps libpython within milliseconds, and the program may fork
 * workers soon after: look often at first (a worker inherits what is known of its parent when
 * it is forked), then now and then for programs that load Python late (embedding).
 */
#define SCANS_AFTER_EXEC 43
#define SCANS_SLOW	 3

static unsigned long long next_scan_delay(unsigned int scans_left)
{
	return scans_left > SCANS_SLOW ? 5000000ULL : 700000000ULL;
}

unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	/* the clock bpf_ktime_get_ns() reads */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* An mmapped BPF array: its elements are value_size rounded up to 8 bytes apart. */
static void *map_memory(const struct bpf_map *map, size_t elem, size_t *len)
{
	size_t page = sysconf(_SC_PAGESIZE);
	void *p;

	*len = ((size_t)bpf_map__max_entries(map) * ((elem + 7) & ~7UL) + page - 1) & ~(page - 1);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	return p == MAP_FAILED ? NULL : p;
}

int tracees_init(struct tracees *t, struct cowtrace_bpf *skel, struct pyattach *pa)
{
	_Static_assert(sizeof(struct cow_proc_info) % 8 == 0 &&
			       sizeof(struct cow_proc_counts) % 8 == 0 &&
			       sizeof(struct cow_stack_cfg) % 8 == 0,
		       "mmapped map elements are 8-byte aligned");
	t->skel = skel;
	t->pa = pa;
	t->procs = map_memory(skel->maps.procs, sizeof(*t->procs), &t->procs_len);
	t->counts = map_memory(skel->maps.counts, sizeof(*t->counts), &t->counts_len);
	t->pool_shifts = map_memory(skel->maps.pool_shifts, sizeof(*t->pool_shifts),
				    &t->pool_shifts_len);
	t->stack_cfgs = map_memory(skel->maps.py_stack_cfgs, sizeof(*t->stack_cfgs),
				   &t->stack_cfgs_len);
	t->slots = calloc(COWTRACE_MAX_SLOTS, sizeof(*t->slots));
	return t->slots && t->procs && t->counts && t->pool_shifts && t->stack_cfgs ? 0 : -ENOMEM;
}

struct cow_proc_info tracees_proc_info(const struct tracees *t, unsigned int slot)
{
	struct cow_proc_info info = {};

	if (slot < COWTRACE_MAX_SLOTS)
		memcpy(&info, (const void *)&t->procs[slot], sizeof(info));
	return info;
}

struct cow_proc_counts tracees_counts(const struct tracees *t, unsigned int slot)
{
	struct cow_proc_counts c = {};

	if (slot < COWTRACE_MAX_SLOTS)
		memcpy(&c, (const void *)&t->counts[slot], sizeof(c));
	return c;
}

static void set_proc_info(struct tracees *t, unsigned int slot, const struct cow_proc_info *info)
{
	if (slot < COWTRACE_MAX_SLOTS)
		memcpy(&t->procs[slot], info, sizeof(*info));
}

void tracees_free(struct tracees *t)
{
	unsigned int i;

	if (t->procs)
		munmap(t->procs, t->procs_len);
	if (t->counts)
		munmap((void *)t->counts, t->counts_len);
	if (t->pool_shifts)
		munmap(t->pool_shifts, t->pool_shifts_len);
	if (t->stack_cfgs)
		munmap(t->stack_cfgs, t->stack_cfgs_len);
	t->procs = NULL;
	t->counts = NULL;
	if (!t->slots)
		return;
	for (i = 0; i < COWTRACE_MAX_SLOTS; i++) {
		free(t->slots[i].cmdline);
		free(t->slots[i].cgroup);
	}
	free(t->slots);
	t->slots = NULL;
}

unsigned int tracees_nslots(const struct tracees *t)
{
	unsigned int n = __atomic_load_n(&t->skel->bss->next_slot, __ATOMIC_SEQ_CST);

	return n < COWTRACE_MAX_SLOTS ? n : COWTRACE_MAX_SLOTS;
}

/* Who the process is inside its container: read once, while it is alive. */
static void read_identity(struct tracee *te, int pid)
{
	char cg[PATH_MAX];
	int ns_pid = procfs_read_ns_pid("/proc", pid);

	if (ns_pid > 0)
		te->ns_pid = ns_pid;
	if (!procfs_read_cgroup("/proc", pid, cg, sizeof(cg))) {
		free(te->cgroup);
		te->cgroup = strdup(cg);
	}
}

static void read_cmdline(struct tracee *te, int pid)
{
	char buf[CMDLINE_MAX];

	if (procfs_read_cmdline("/proc", pid, buf, sizeof(buf)) <= 0)
		return;
	free(te->cmdline);
	te->cmdline = strdup(buf);
}

/* How BPF walks the stacks of a process running py (kind PYF_NONE when it cannot); *guessed
 * when the thread pointer's bias is this glibc's, not the target's (not mapped yet). */
static struct cow_stack_cfg stack_cfg(int pid, const struct py_binding *py, bool *guessed)
{
	const struct py_frame_offsets *o;
	struct cow_stack_cfg c = {};
	int instr, tframe;

	if (!py || py->interp.free_threaded || !(o = py->frames))
		return c;
	c.runtime = pyattach_runtime_addr(pid, py);
	if (!c.runtime)
		return c;
	if (o->frame_lasti >= 0) {
		c.kind = PYF_FRAMEOBJ;
		instr = o->frame_lasti;
		tframe = o->tstate_frame;
	} else if (o->tstate_cframe >= 0) {
		c.kind = PYF_CFRAME;
		instr = o->frame_instr_ptr;
		tframe = o->tstate_cframe;
	} else {
		c.kind = PYF_CURRENT;
		instr = o->frame_instr_ptr;
		tframe = o->tstate_current_frame;
	}
	/* every frame field must be inside the bytes BPF reads of a frame */
	if (instr < 0 || instr + 8 > COW_FRAME_READ || o->frame_code < 0 ||
	    o->frame_code + 8 > COW_FRAME_READ || o->frame_previous < 0 ||
	    o->frame_previous + 8 > COW_FRAME_READ || o->frame_owner >= COW_FRAME_READ ||
	    tframe < 0 || o->tstate_thread_id < 0 || o->tstate_next < 0 ||
	    o->runtime_interpreters_head < 0 || o->interp_threads_head < 0) {
		c.kind = PYF_NONE;
		return c;
	}
	c.interp_head = o->runtime_interpreters_head;
	c.threads_head = o->interp_threads_head;
	c.tstate_next = o->tstate_next;
	c.tstate_thread_id = o->tstate_thread_id;
	c.tstate_frame = tframe;
	c.cframe_current = o->cframe_current_frame > 0 ? o->cframe_current_frame : 0;
	c.frame_previous = o->frame_previous;
	c.frame_code = o->frame_code;
	c.frame_instr = instr;
	c.frame_owner = o->frame_owner > 0 ? o->frame_owner : 0;
	c.owner_skip = o->frame_owner > 0 && o->frame_owner_incomplete > 0 ?
			       o->frame_owner_incomplete : 0;
	c.code_tag_bits = o->frame_code_tag_bits > 0 ? o->frame_code_tag_bits : 0;
	c.code_name = o->code_qualname > 0 ? o->code_qualname : o->code_name;
	c.str_data = o->unicode_ascii_data;
	c.thread_ptr_bias = pythread_ptr_bias(pid, guessed);
	return c;
}

/*
 * The pool size and stack configuration BPF reads for a slot, written through the maps' memory
 * and only what changed: BPF may read a configuration while it is written, so its kind is
 * cleared first and set last, after the fields it makes valid.
 */
static void store_cfg(struct tracees *t, unsigned int slot, __u64 shift, struct cow_stack_cfg cfg)
{
	struct cow_stack_cfg *cur = &t->stack_cfgs[slot];
	__u32 kind = cfg.kind;

	if (__atomic_load_n(&t->pool_shifts[slot], __ATOMIC_RELAXED) != shift)
		__atomic_store_n(&t->pool_shifts[slot], shift, __ATOMIC_RELEASE);
	if (!memcmp(cur, &cfg, sizeof(cfg)))
		return;
	__atomic_store_n(&cur->kind, PYF_NONE, __ATOMIC_RELEASE);
	cfg.kind = PYF_NONE;
	memcpy(cur, &cfg, sizeof(cfg));
	__atomic_store_n(&cur->kind, kind, __ATOMIC_RELEASE);
}

/* Tells BPF about slot's interpreter: the pymalloc pool size (for captures) and how to walk its
 * stacks. */
static void set_python(struct tracees *t, unsigned int slot, int pid, const struct py_binding *py)
{
	struct cow_stack_cfg cfg = {};
	__u64 shift = 0;

	if (slot >= COWTRACE_MAX_SLOTS)
		return;
	t->slots[slot].python = py;
	if (py)
		t->any_python = true;
	/* the pool size of the interpreter's object layout (user/python/pylayout.c) */
	if (py && py->layout && py->layout->pool_size)
		shift = __builtin_ctz(py->layout->pool_size);
	else if (!py && t->slots[slot].scans_left > SCANS_SLOW)
		shift = COW_POOL_SHIFT_PENDING; /* still looking, often (bpf/cowtrace.h) */
	t->slots[slot].thread_bias_guessed = false;
	if (t->stacks)
		cfg = stack_cfg(pid, py, &t->slots[slot].thread_bias_guessed);
	store_cfg(t, slot, shift, cfg);
}

/*
 * A forked child runs its parent's program in a copy of its address space: the parent's
 * configuration is the child's. BPF copied it at the fork, but the parent's may have been
 * written after that (its interpreter found while the fork was on its way here).
 */
static void inherit_python(struct tracees *t, unsigned int slot, unsigned int parent)
{
	struct tracee *te = &t->slots[slot], *pte = &t->slots[parent];

	te->python = pte->python;
	te->thread_bias_guessed = pte->thread_bias_guessed;
	/* a parent still being looked at: so is the child (a pending capture ends with it) */
	te->scans_left = pte->python ? 0 : pte->scans_left;
	te->next_scan_ns = pte->next_scan_ns;
	store_cfg(t, slot, __atomic_load_n(&t->pool_shifts[parent], __ATOMIC_ACQUIRE),
		  t->stack_cfgs[parent]);
}

static void forget_slot(struct tracees *t, unsigned int slot)
{
	struct cow_proc_info info = {};

	/* pid 0 marks an unused slot: the report skips it */
	set_proc_info(t, slot, &info);
}

unsigned int tracees_role(const struct tracees *t, unsigned int slot)
{
	struct cow_proc_info info = tracees_proc_info(t, slot);
	const struct tracee *te;

	if (slot >= COWTRACE_MAX_SLOTS)
		return ROLE_HELPER;
	te = &t->slots[slot];
	if (info.role == ROLE_ROOT)
		return te->root_is_worker ? ROLE_WORKER : ROLE_ROOT;
	if (te->python)
		return (info.flags & PROC_EXECED) ? ROLE_MASTER : ROLE_WORKER;
	/* a process that runs no CPython: in a Python server's tree, a shell or a program run on
	 * the side; in a tree without any CPython (a C pre-fork server), a forked child that
	 * runs its parent's program is a worker too */
	if (t->any_python || (info.flags & PROC_EXECED))
		return ROLE_HELPER;
	return ROLE_WORKER;
}

const char *cow_role_name(unsigned int role)
{
	static const char *const names[ROLE_COUNT] = {
	    [ROLE_ROOT] = "root", [ROLE_WORKER] = "worker", [ROLE_MASTER] = "master",
	    [ROLE_HELPER] = "helper",
	};

	return role < ROLE_COUNT ? names[role] : "?";
}

/* Do two processes run the same executable file (/proc/PID/exe)? */
static bool same_exe(int a, int b)
{
	char pa[64], pb[64];
	struct stat sa, sb;

	snprintf(pa, sizeof(pa), "/proc/%d/exe", a);
	snprintf(pb, sizeof(pb), "/proc/%d/exe", b);
	return !stat(pa, &sa) && !stat(pb, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int tracees_add(struct tracees *t, int pid, unsigned int role, unsigned int parent_slot)
{
	struct cow_proc_info info = {};
	struct proc_stat st, again;
	unsigned int slot;
	__u32 key = pid;
	int err;

	err = procfs_read_stat("/proc", pid, &st);
	if (err || st.state == 'Z' || st.state == 'X')
		return -ESRCH; /* gone, or exited and not reaped: never traced as alive */
	slot = __atomic_fetch_add(&t->skel->bss->next_slot, 1, __ATOMIC_SEQ_CST);
	if (slot >= COWTRACE_MAX_SLOTS)
		return -ENOSPC;
	info.pid = pid;
	info.ppid = st.ppid;
	info.parent_slot = parent_slot;
	info.role = role;
	/* found in /proc, not seen forking: another program than its parent's means an exec */
	if (role == ROLE_WORKER && !same_exe(pid, st.ppid))
		info.flags |= PROC_EXECED;
	info.start_ns = monotonic_ns();
	memcpy(info.comm, st.comm, sizeof(info.comm) - 1);
	set_proc_info(t, slot, &info);
	err = bpf_map__update_elem(t->skel->maps.traced, &key, sizeof(key), &slot, sizeof(slot),
				   BPF_NOEXIST);
	if (err) {
		/* -EEXIST: BPF saw it forked from a process traced meanwhile; keep that slot */
		forget_slot(t, slot);
		return err == -EEXIST ? 0 : err;
	}
	/*
	 * If pid exited between the two reads, BPF's exit hook ran before the process was
	 * marked traced, and would never run again: not traced. If it died and the pid was
	 * reused, this is not the process we meant.
	 */
	if (procfs_read_stat("/proc", pid, &again) || again.start_ticks != st.start_ticks ||
	    again.state == 'Z' || again.state == 'X') {
		bpf_map__delete_elem(t->skel->maps.traced, &key, sizeof(key), 0);
		forget_slot(t, slot);
		return -ESRCH;
	}
	read_cmdline(&t->slots[slot], pid);
	read_identity(&t->slots[slot], pid);
	set_python(t, slot, pid, pyattach_scan_pid(t->pa, pid));
	return slot;
}

void tracees_set_cmdline(struct tracees *t, int slot, char *const argv[])
{
	char buf[CMDLINE_MAX];
	size_t off = 0;
	int i;

	if (slot < 0 || slot >= COWTRACE_MAX_SLOTS)
		return;
	buf[0] = '\0';
	for (i = 0; argv[i] && off < sizeof(buf) - 1; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " " : "", argv[i]);
	free(t->slots[slot].cmdline);
	t->slots[slot].cmdline = strdup(buf);
	t->slots[slot].cmdline_preset = true;
}

static unsigned int slot_of(struct tracees *t, int pid)
{
	__u32 key = pid, slot;

	if (bpf_map__lookup_elem(t->skel->maps.traced, &key, sizeof(key), &slot, sizeof(slot), 0))
		return COWTRACE_NO_SLOT;
	return slot;
}

/*
 * -p of a worker: a CPython process running its parent's program with its parent's command
 * line was forked by it, not started (a gunicorn worker, a pool process). It is reported as
 * the worker it is, and the user is told.
 */
static void mark_forked_root(struct tracees *t, int slot, int pid)
{
	struct cow_proc_info info;
	char theirs[CMDLINE_MAX];
	struct tracee *te;

	if (slot < 0 || slot >= COWTRACE_MAX_SLOTS)
		return;
	te = &t->slots[slot];
	info = tracees_proc_info(t, slot); /* its parent and command line: read by tracees_add */
	if (!te->python || !te->cmdline || info.ppid <= 1 || !same_exe(pid, info.ppid) ||
	    procfs_read_cmdline("/proc", info.ppid, theirs, sizeof(theirs)) <= 0 ||
	    strcmp(te->cmdline, theirs))
		return;
	te->root_is_worker = true;
	log_warn("pid %d is a worker of pid %d (forked, the same program): traced as a worker; "
		 "-p %d traces its master and all its workers", pid, info.ppid, info.ppid);
}

int tracees_add_tree(struct tracees *t, int pid)
{
	int *pids = NULL, n, i, added, err;

	err = tracees_add(t, pid, ROLE_ROOT, COWTRACE_NO_SLOT);
	if (err < 0)
		return err;
	mark_forked_root(t, err, pid);
	/*
	 * From here on BPF marks every process a traced one forks. Descendants that existed
	 * before are found in /proc; repeat until a pass finds nothing new, so that a process
	 * forked by one not yet marked is not missed.
	 */
	do {
		added = 0;
		n = procfs_descendants("/proc", pid, &pids);
		for (i = 0; i < n; i++) {
			struct proc_stat st;

			if (slot_of(t, pids[i]) != COWTRACE_NO_SLOT ||
			    procfs_read_stat("/proc", pids[i], &st))
				continue;
			if (tracees_add(t, pids[i], ROLE_WORKER, slot_of(t, st.ppid)) > 0)
				added++;
		}
		free(pids);
		pids = NULL;
	} while (added && n > 0);
	return 0;
}

void tracees_on_fork(struct tracees *t, unsigned int slot, int pid)
{
	struct cow_proc_info info;
	struct tracee *te;

	if (slot >= COWTRACE_MAX_SLOTS)
		return;
	te = &t->slots[slot];
	info = tracees_proc_info(t, slot);
	/* a forked child runs its parent's program until it execs */
	if (info.parent_slot < COWTRACE_MAX_SLOTS) {
		struct tracee *parent = &t->slots[info.parent_slot];

		/* the parent forks before we found its interpreter: look now, for its next
		 * workers (this one got what BPF knew at the fork) */
		if (!parent->python && parent->scans_left) {
			struct cow_proc_info pinfo = tracees_proc_info(t, info.parent_slot);

			if (pinfo.pid && !(pinfo.flags & PROC_EXITED))
				set_python(t, info.parent_slot, pinfo.pid,
					   pyattach_scan_pid(t->pa, pinfo.pid));
			if (parent->python)
				parent->scans_left = 0;
		}

		/* Its interpreter was found at its exec, before the dynamic loader had mapped
		 * its libc: look again now that it runs (and before any copy-on-write in it or
		 * its children, which needs a fork: this one). */
		if (parent->python && parent->thread_bias_guessed) {
			struct cow_proc_info pinfo = tracees_proc_info(t, info.parent_slot);

			if (pinfo.pid && !(pinfo.flags & PROC_EXITED))
				set_python(t, info.parent_slot, pinfo.pid, parent->python);
		}
		/* a child that has exited already could not be asked for its own */
		inherit_python(t, slot, info.parent_slot);
		if (parent->cmdline && !te->cmdline)
			te->cmdline = strdup(parent->cmdline);
		/* fork puts the child in its parent's cgroup */
		if (parent->cgroup && !te->cgroup)
			te->cgroup = strdup(parent->cgroup);
	}
	read_cmdline(te, pid);
	read_identity(te, pid);
}

void tracees_on_exec(struct tracees *t, unsigned int slot, int pid, unsigned long long now_ns)
{
	const struct py_binding *py;
	struct tracee *te;

	if (slot >= COWTRACE_MAX_SLOTS)
		return;
	te = &t->slots[slot];
	if (te->cmdline_preset) {
		/* COMMAND's own exec: its argv is already known, /proc may be gone */
		te->cmdline_preset = false;
		read_cmdline(te, pid);
	} else {
		/* the old command line is no longer this process's: unknown rather than wrong */
		free(te->cmdline);
		te->cmdline = NULL;
		read_cmdline(te, pid);
	}
	py = pyattach_scan_pid(t->pa, pid);
	/* the dynamic loader maps libpython only after exec: look again a few times */
	te->scans_left = py ? 0 : SCANS_AFTER_EXEC;
	te->next_scan_ns = now_ns + next_scan_delay(te->scans_left);
	set_python(t, slot, pid, py);
}

unsigned long long tracees_next_scan(const struct tracees *t)
{
	unsigned long long next = 0;
	unsigned int i, n = tracees_nslots(t);

	for (i = 0; i < n; i++)
		if (t->slots[i].scans_left && (!next || t->slots[i].next_scan_ns < next))
			next = t->slots[i].next_scan_ns;
	return next;
}

void tracees_tick(struct tracees *t, unsigned long long now_ns)
{
	unsigned int i, n = tracees_nslots(t);

	for (i = 0; i < n; i++) {
		struct tracee *te = &t->slots[i];
		const struct py_binding *py;
		struct cow_proc_info info;

		if (!te->scans_left || now_ns < te->next_scan_ns)
			continue;
		info = tracees_proc_info(t, i);
		if (!info.pid || (info.flags & PROC_EXITED)) {
			te->scans_left = 0;
			continue;
		}
		py = pyattach_scan_pid(t->pa, info.pid);
		te->scans_left = py ? 0 : te->scans_left - 1;
		te->next_scan_ns = now_ns + next_scan_delay(te->scans_left);
		set_python(t, i, info.pid, py);
		if (!te->cmdline)
			read_cmdline(te, info.pid);
	}
}

bool tracees_all_exited(const struct tracees *t)
{
	__u32 key;

	/* BPF deletes a process from the map when its last thread exits */
	return bpf_map_get_next_key(bpf_map__fd(t->skel->maps.traced), NULL, &key) == -ENOENT;
}

void tracees_sample_memory(struct tracees *t, unsigned long long now_ns)
{
	unsigned int slot, n = tracees_nslots(t);
	struct proc_mem m;

	for (slot = 0; slot < n; slot++) {
		struct cow_proc_info info = tracees_proc_info(t, slot);

		if (!info.pid || (info.flags & PROC_EXITED))
			continue;
		if (procfs_read_smaps_rollup("/proc", info.pid, &m))
			continue;
		/* the same process still (not a reused pid): BPF has not seen it exit */
		info = tracees_proc_info(t, slot);
		if (info.flags & PROC_EXITED)
			continue;
		t->slots[slot].mem = m;
		t->slots[slot].mem_ns = now_ns;
	}
}

/*
 * Processes BPF still has as alive but that are gone (no /proc entry) or dead (a zombie): the
 * kernel can skip the exit hook (its per-CPU recursion check, on a preemptible kernel), and a
 * trace would then never end. They are marked exited here, with no exit code.
 */
void tracees_check_exits(struct tracees *t, unsigned long long now_ns)
{
	unsigned int slot, n = tracees_nslots(t);
	struct proc_stat st;
	__u32 tgid, *slotp, cur;

	for (slot = 0; slot < n; slot++) {
		struct cow_proc_info info = tracees_proc_info(t, slot);

		if (!info.pid || (info.flags & PROC_EXITED))
			continue;
		if (!procfs_read_stat("/proc", info.pid, &st) && st.state != 'Z' && st.state != 'X')
			continue;
		info = tracees_proc_info(t, slot); /* BPF may have seen it meanwhile */
		if (info.flags & PROC_EXITED)
			continue;
		info.flags |= PROC_EXITED | PROC_EXIT_UNSEEN;
		info.exit_ns = now_ns;
		set_proc_info(t, slot, &info);
		tgid = info.pid;
		slotp = &cur;
		if (!bpf_map__lookup_elem(t->skel->maps.traced, &tgid, sizeof(tgid), slotp,
					  sizeof(cur), 0) &&
		    cur == slot)
			bpf_map__delete_elem(t->skel->maps.traced, &tgid, sizeof(tgid), 0);
		log_info("pid %u: exited without the kernel running the exit hook", tgid);
	}
}
