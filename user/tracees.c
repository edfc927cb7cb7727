// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <linux/types.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cowtrace.skel.h"
#include "cowtrace.h"
#include "log.h"
#include "procfs.h"
#include "pyframes.h"
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

int tracees_init(struct tracees *t, struct cowtrace_bpf *skel, struct pyattach *pa)
{
	t->skel = skel;
	t->pa = pa;
	t->slots = calloc(COWTRACE_MAX_SLOTS, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void tracees_free(struct tracees *t)
{
	unsigned int i;

	if (!t->slots)
		return;
	for (i = 0; i < COWTRACE_MAX_SLOTS; i++)
		free(t->slots[i].cmdline);
	free(t->slots);
	t->slots = NULL;
}

unsigned int tracees_nslots(const struct tracees *t)
{
	unsigned int n = __atomic_load_n(&t->skel->bss->next_slot, __ATOMIC_SEQ_CST);

	return n < COWTRACE_MAX_SLOTS ? n : COWTRACE_MAX_SLOTS;
}

static void read_cmdline(struct tracee *te, int pid)
{
	char buf[CMDLINE_MAX];

	if (procfs_read_cmdline("/proc", pid, buf, sizeof(buf)) <= 0)
		return;
	free(te->cmdline);
	te->cmdline = strdup(buf);
}

/* How BPF walks the stacks of a process running py (kind PYF_NONE when it cannot). */
static struct cow_stack_cfg stack_cfg(int pid, const struct py_binding *py)
{
	const struct py_frame_offsets *o;
	struct cow_stack_cfg c = {};
	int instr, tframe;

	if (!py || py->interp.free_threaded ||
	    !(o = py_frame_offsets_for(py->interp.major, py->interp.minor)))
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
	return c;
}

/* Tells BPF about slot's interpreter: the pymalloc pool size (for captures) and how to walk its
 * stacks. */
static void set_python(struct tracees *t, unsigned int slot, int pid, const struct py_binding *py)
{
	struct cow_stack_cfg cfg = {};
	__u32 shift = 0;

	t->slots[slot].python = py;
	if (py && !py->interp.free_threaded && py->interp.major == 3 && py->interp.minor >= 8)
		shift = py->interp.minor >= 10 ? 14 : 12; /* 16 KiB pools from 3.10, 4 KiB before */
	bpf_map__update_elem(t->skel->maps.pool_shifts, &slot, sizeof(slot), &shift, sizeof(shift),
			     0);
	if (t->stacks)
		cfg = stack_cfg(pid, py);
	bpf_map__update_elem(t->skel->maps.py_stack_cfgs, &slot, sizeof(slot), &cfg, sizeof(cfg),
			     0);
}

static void forget_slot(struct tracees *t, unsigned int slot)
{
	struct cow_proc_info info = {};

	/* pid 0 marks an unused slot: the report skips it */
	bpf_map__update_elem(t->skel->maps.procs, &slot, sizeof(slot), &info, sizeof(info), 0);
}

int tracees_add(struct tracees *t, int pid, unsigned int role, unsigned int parent_slot)
{
	struct cow_proc_info info = {};
	struct proc_stat st, again;
	unsigned int slot;
	__u32 key = pid;
	int err;

	err = procfs_read_stat("/proc", pid, &st);
	if (err)
		return -ESRCH;
	slot = __atomic_fetch_add(&t->skel->bss->next_slot, 1, __ATOMIC_SEQ_CST);
	if (slot >= COWTRACE_MAX_SLOTS)
		return -ENOSPC;
	info.pid = pid;
	info.ppid = st.ppid;
	info.parent_slot = parent_slot;
	info.role = role;
	info.start_ns = monotonic_ns();
	memcpy(info.comm, st.comm, sizeof(info.comm) - 1);
	err = bpf_map__update_elem(t->skel->maps.procs, &slot, sizeof(slot), &info, sizeof(info), 0);
	if (err)
		return err;
	err = bpf_map__update_elem(t->skel->maps.traced, &key, sizeof(key), &slot, sizeof(slot),
				   BPF_NOEXIST);
	if (err) {
		/* -EEXIST: BPF saw it forked from a process traced meanwhile; keep that slot */
		forget_slot(t, slot);
		return err == -EEXIST ? 0 : err;
	}
	/* If pid died and was reused between the two reads, this is not the process we meant. */
	if (procfs_read_stat("/proc", pid, &again) || again.start_ticks != st.start_ticks) {
		bpf_map__delete_elem(t->skel->maps.traced, &key, sizeof(key), 0);
		forget_slot(t, slot);
		return -ESRCH;
	}
	read_cmdline(&t->slots[slot], pid);
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

static bool is_traced(struct tracees *t, int pid)
{
	__u32 key = pid, slot;

	return !bpf_map__lookup_elem(t->skel->maps.traced, &key, sizeof(key), &slot, sizeof(slot),
				     0);
}

static unsigned int slot_of(struct tracees *t, int pid)
{
	__u32 key = pid, slot;

	if (bpf_map__lookup_elem(t->skel->maps.traced, &key, sizeof(key), &slot, sizeof(slot), 0))
		return COWTRACE_NO_SLOT;
	return slot;
}

int tracees_add_tree(struct tracees *t, int pid)
{
	int *pids = NULL, n, i, added, err;

	err = tracees_add(t, pid, ROLE_ROOT, COWTRACE_NO_SLOT);
	if (err < 0)
		return err;
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

			if (is_traced(t, pids[i]) || procfs_read_stat("/proc", pids[i], &st))
				continue;
			if (tracees_add(t, pids[i], ROLE_WORKER, slot_of(t, st.ppid)) > 0)
				added++;
		}
		free(pids);
		pids = NULL;
	} while (added && n > 0);
	return 0;
}

static struct cow_proc_info proc_info(struct tracees *t, unsigned int slot)
{
	struct cow_proc_info info = {};

	bpf_map__lookup_elem(t->skel->maps.procs, &slot, sizeof(slot), &info, sizeof(info), 0);
	return info;
}

void tracees_on_fork(struct tracees *t, unsigned int slot, int pid)
{
	struct cow_proc_info info;
	struct tracee *te;

	if (slot >= COWTRACE_MAX_SLOTS)
		return;
	te = &t->slots[slot];
	info = proc_info(t, slot);
	/* a forked child runs its parent's program until it execs */
	if (info.parent_slot < COWTRACE_MAX_SLOTS) {
		struct tracee *parent = &t->slots[info.parent_slot];

		/* the parent forks before we found its interpreter: look now, for its next
		 * workers (this one got what BPF knew at the fork) */
		if (!parent->python && parent->scans_left) {
			struct cow_proc_info pinfo = proc_info(t, info.parent_slot);

			if (pinfo.pid && !(pinfo.flags & PROC_EXITED))
				set_python(t, info.parent_slot, pinfo.pid,
					   pyattach_scan_pid(t->pa, pinfo.pid));
			if (parent->python) {
				parent->scans_left = 0;
				/* and the child, which runs the same program */
				set_python(t, slot, pid, parent->python);
			}
		}

		/* BPF copied the parent's pool size and stack configuration at the fork; a
		 * child that has exited already could not be asked for its own */
		te->python = parent->python;
		if (parent->cmdline && !te->cmdline)
			te->cmdline = strdup(parent->cmdline);
	}
	read_cmdline(te, pid);
}

void tracees_on_exec(struct tracees *t, unsigned int slot, int pid, unsigned long long now_ns)
{
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
	set_python(t, slot, pid, pyattach_scan_pid(t->pa, pid));
	/* the dynamic loader maps libpython only after exec: look again a few times */
	te->scans_left = te->python ? 0 : SCANS_AFTER_EXEC;
	te->next_scan_ns = now_ns + next_scan_delay(te->scans_left);
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
		struct cow_proc_info info;

		if (!te->scans_left || now_ns < te->next_scan_ns)
			continue;
		info = proc_info(t, i);
		if (!info.pid || (info.flags & PROC_EXITED)) {
			te->scans_left = 0;
			continue;
		}
		set_python(t, i, info.pid, pyattach_scan_pid(t->pa, info.pid));
		te->scans_left = te->python ? 0 : te->scans_left - 1;
		te->next_scan_ns = now_ns + next_scan_delay(te->scans_left);
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
