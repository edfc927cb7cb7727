// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "cowtrace.skel.h"
#include "log.h"
#include "procfs.h"
#include <linux/types.h>
#include "cowtrace.h"
#include "pyattach.h"
#include "textesc.h"

struct pyattach {
	struct cowtrace_bpf *skel;
	struct py_binding **b;
	size_t n, cap;
	/* files already looked at that are not CPython, so that each is opened once */
	struct {
		dev_t dev;
		ino_t ino;
	} *not_python;
	size_t n_not, cap_not;
	/* asked before each file not looked at yet: the run is ending (-d, Ctrl-C) */
	bool (*stop)(void *arg);
	void *stop_arg;
};

void pyattach_set_stop(struct pyattach *pa, bool (*stop)(void *arg), void *arg)
{
	pa->stop = stop;
	pa->stop_arg = arg;
}

struct pyattach *pyattach_new(struct cowtrace_bpf *skel)
{
	struct pyattach *pa = calloc(1, sizeof(*pa));

	if (pa)
		pa->skel = skel;
	return pa;
}

void pyattach_free(struct pyattach *pa)
{
	size_t i, j;

	if (!pa)
		return;
	for (i = 0; i < pa->n; i++) {
		for (j = 0; j < 4; j++)
			bpf_link__destroy(pa->b[i]->links[j]);
		free(pa->b[i]);
	}
	free(pa->b);
	free(pa->not_python);
	free(pa);
}

static struct py_binding *find(struct pyattach *pa, dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < pa->n; i++)
		if (pa->b[i]->dev == dev && pa->b[i]->ino == ino)
			return pa->b[i];
	return NULL;
}

static bool known_not_python(struct pyattach *pa, dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < pa->n_not; i++)
		if (pa->not_python[i].dev == dev && pa->not_python[i].ino == ino)
			return true;
	return false;
}

static void remember_not_python(struct pyattach *pa, dev_t dev, ino_t ino)
{
	if (pa->n_not == pa->cap_not) {
		size_t cap = pa->cap_not ? 2 * pa->cap_not : 16;
		void *p = realloc(pa->not_python, cap * sizeof(*pa->not_python));

		if (!p)
			return;
		pa->not_python = p;
		pa->cap_not = cap;
	}
	pa->not_python[pa->n_not].dev = dev;
	pa->not_python[pa->n_not].ino = ino;
	pa->n_not++;
}

/*
 * libbpf reads the file of a USDT attach through a mapping of its own. The file can belong to
 * the traced program, which could truncate it meanwhile: a SIGBUS in cowtrace, which would end
 * without a report. While libbpf reads it, a SIGBUS jumps back here instead, and the attach is
 * given up (what libbpf had allocated for it is lost: a few KiB, once per such attack).
 */
static sigjmp_buf bus_jump;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_jump, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void attach_usdt(struct pyattach *pa, struct py_binding *b, const char *path)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jump, 1)) {
		log_warn("%s: the file changed while it was read (truncated?); not probed", b->path);
		errno = EIO;
		goto out;
	}
	bus_armed = 1;
	b->links[0] = bpf_program__attach_usdt(pa->skel->progs.usdt_gc_start, -1, path, "python",
					       "gc__start", NULL);
	b->links[1] = bpf_program__attach_usdt(pa->skel->progs.usdt_gc_done, -1, path, "python",
					       "gc__done", NULL);
	bus_armed = 0;
out:
	sigaction(SIGBUS, &old, NULL);
}

static void attach_uprobe_pair(struct pyattach *pa, struct bpf_link **links, const char *path,
			       unsigned long offset, __u64 cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, entry, .bpf_cookie = cookie);
	LIBBPF_OPTS(bpf_uprobe_opts, ret, .retprobe = true);

	links[0] = bpf_program__attach_uprobe_opts(pa->skel->progs.uprobe_gc_entry, -1, path,
						   offset, &entry);
	links[1] = bpf_program__attach_uprobe_opts(pa->skel->progs.uprobe_gc_return, -1, path,
						   offset, &ret);
}

static void attach_uprobes(struct pyattach *pa, struct py_binding *b, const char *path)
{
	const struct py_interp *in = &b->interp;

	attach_uprobe_pair(pa, b->links, path, in->gc_func_offset,
			   in->gc_gen_arg > 0 && in->gc_gen_arg <= 5 ? in->gc_gen_arg : 0);
	/* the compiler's specialised copy of the collector (3.6-3.8): optional, best effort */
	if (in->gc_func2[0] && b->links[0] && b->links[1]) {
		attach_uprobe_pair(pa, &b->links[2], path, in->gc_func2_offset,
				   in->gc_func2_gen >= 0 && in->gc_func2_gen < GC_GENS
					   ? GC_COOKIE_FIXED_GEN | in->gc_func2_gen
					   : 0);
		if (!b->links[2] || !b->links[3])
			log_warn("%s: cannot attach to %s; its full collections count as other",
				 in->path, in->gc_func2);
	}
}

/*
 * path: how cowtrace reaches the file (e.g. /proc/PID/map_files/START-END); shown: the path the
 * process knows it by, for messages and the report.
 */
static const struct py_binding *bind(struct pyattach *pa, const char *path, dev_t dev, ino_t ino,
				     const char *shown)
{
	struct py_binding *b = find(pa, dev, ino);
	struct py_interp interp;
	int err;

	if (b)
		return b;
	if (known_not_python(pa, dev, ino))
		return NULL;
	/* what follows reads a file the target chose, and attaches: not once the run ends */
	if (pa->stop && pa->stop(pa->stop_arg))
		return NULL;
	err = py_interp_inspect(path, &interp);
	if (err) {
		if (err == -EFBIG)
			log_warn("%s: larger than %llu MiB, not read as an interpreter", shown,
				 PROCFS_ELF_READ_MAX >> 20);
		remember_not_python(pa, dev, ino);
		return NULL;
	}
	/* the file inspected must be the one mapped, not one put at its path since */
	if (interp.dev != dev || interp.ino != ino) {
		log_warn("%s: the file inspected is not the one mapped (replaced meanwhile?); "
			 "skipped", shown);
		return NULL;
	}
	if (pa->n == pa->cap) {
		size_t cap = pa->cap ? 2 * pa->cap : 4;
		void *p = realloc(pa->b, cap * sizeof(*pa->b));

		if (!p)
			return NULL;
		pa->b = p;
		pa->cap = cap;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->interp = interp;
	b->dev = dev;
	b->ino = ino;
	text_esc(b->path, sizeof(b->path), shown); /* a name the target chose */
	snprintf(b->version, sizeof(b->version), "%d.%d.%d", interp.major, interp.minor,
		 interp.micro);
	pa->b[pa->n++] = b;

	if (!interp.free_threaded) {
		err = py_frame_offsets_of(&b->interp, &b->frames_buf);
		if (!err)
			b->frames = &b->frames_buf;
		else
			log_warn("%s (CPython %s): frame layout unknown (%s); no Python stacks",
				 b->path, b->version, strerror(-err));
		err = py_layout_of(&b->interp, &b->layout_buf);
		if (!err)
			b->layout = &b->layout_buf;
		else
			log_warn("%s (CPython %s): object layout unknown (%s); copies are not "
				 "decoded to objects", b->path, b->version, strerror(-err));
	}
	if (interp.free_threaded) {
		snprintf(b->gc_source, sizeof(b->gc_source), "none");
		log_warn("%s: free-threaded CPython %s is not supported; its copies are counted "
			 "but not attributed to gc", b->path, b->version);
		return b;
	}
	if (interp.gc_source == PY_GC_USDT)
		attach_usdt(pa, b, path);
	else if (interp.gc_source == PY_GC_UPROBE)
		attach_uprobes(pa, b, path);
	if (interp.gc_source == PY_GC_NONE || !b->links[0] || !b->links[1]) {
		err = -errno;
		bpf_link__destroy(b->links[0]);
		bpf_link__destroy(b->links[1]);
		b->links[0] = b->links[1] = NULL;
		snprintf(b->gc_source, sizeof(b->gc_source), "none");
		if (interp.gc_source == PY_GC_NONE)
			log_warn("%s (CPython %s): no USDT probes and no collector symbol; copies "
				 "are not attributed to gc", b->path, b->version);
		else
			log_warn("%s (CPython %s): cannot attach gc probes: %s", b->path,
				 b->version, strerror(-err));
		return b;
	}
	if (interp.gc_source == PY_GC_USDT)
		snprintf(b->gc_source, sizeof(b->gc_source), "usdt");
	else
		snprintf(b->gc_source, sizeof(b->gc_source), "uprobe:%s", interp.gc_func);
	log_info("CPython %s in %s: gc from %s", b->version, b->path, b->gc_source);
	return b;
}

const struct py_binding *pyattach_file(struct pyattach *pa, const char *path)
{
	const struct py_binding *b;
	char self[64];
	struct stat st;
	int fd;

	/* one open, then only our descriptor: the file inspected is the file probed */
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	b = bind(pa, self, st.st_dev, st.st_ino, path);
	close(fd);
	return b;
}

struct scan_ctx {
	struct pyattach *pa;
	int pid;
	const struct py_binding *found;
};

static int scan_map(const struct map_entry *e, void *arg)
{
	struct scan_ctx *ctx = arg;
	char name[sizeof(e->path)], path[64];
	size_t len = procfs_map_path_len(e);
	struct stat st;
	int fd;

	/* only executable file mappings can hold the interpreter's code */
	if (e->path[0] != '/' || e->perms[2] != 'x' || !e->inode)
		return 0;
	/* a binary replaced or removed since it was started is still the one that runs */
	memcpy(name, e->path, len);
	name[len] = '\0';
	if (!py_interp_name_candidate(name))
		return 0;
	/*
	 * The mapped file itself, not a path (procfs_open_mapped): the process's path can exist
	 * only in its own mount namespace or chroot (a container), and the host can have another
	 * file at the same path. It is reached through our own descriptor only: the target can
	 * remap that range, or rename files, but cannot change what our descriptor refers to, so
	 * the file inspected is the file probed.
	 */
	fd = procfs_open_mapped(ctx->pid, e);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ctx->found = bind(ctx->pa, path, st.st_dev, st.st_ino, name);
	close(fd);
	return ctx->found ? 1 : 0;
}

const struct py_binding *pyattach_scan_pid(struct pyattach *pa, int pid)
{
	struct scan_ctx ctx = { .pa = pa, .pid = pid };

	procfs_for_each_map("/proc", pid, scan_map, &ctx);
	return ctx.found;
}

struct runtime_ctx {
	const struct py_binding *b;
	unsigned long start;
};

static int find_base(const struct map_entry *e, void *arg)
{
	struct runtime_ctx *ctx = arg;

	if (e->offset == 0 && e->inode == ctx->b->ino &&
	    makedev(e->dev_major, e->dev_minor) == ctx->b->dev) {
		ctx->start = e->start;
		return 1;
	}
	return 0;
}

unsigned long pyattach_runtime_addr(int pid, const struct py_binding *b)
{
	struct runtime_ctx ctx = { .b = b };

	if (!b || !b->interp.runtime_vaddr)
		return 0;
	procfs_for_each_map("/proc", pid, find_base, &ctx);
	if (!ctx.start)
		return 0;
	/* the load bias moves every link-time address of the file by the same amount */
	return ctx.start - (b->interp.load_vaddr & ~(COW_PAGE_SIZE - 1)) + b->interp.runtime_vaddr;
}
