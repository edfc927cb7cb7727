// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "kernel.h"
#include "procfs.h"

#define SYSFS_BTF "/sys/kernel/btf/vmlinux"

static char btf_label[256] = "kernel";

const char *kernel_btf_label(void)
{
	return btf_label;
}

struct btf *kernel_btf_load(const char *path, char *err, size_t errlen)
{
	struct btf *btf;

	if (!path && access(SYSFS_BTF, R_OK)) {
		snprintf(err, errlen,
			 "kernel has no BTF (%s missing; needs CONFIG_DEBUG_INFO_BTF=y), or pass --btf FILE",
			 SYSFS_BTF);
		return NULL;
	}
	if (path && access(path, R_OK)) {
		snprintf(err, errlen, "BTF file %s not found or unreadable: %s", path, strerror(errno));
		return NULL;
	}
	if (path)
		snprintf(btf_label, sizeof(btf_label), "BTF file %s", path);
	btf = btf__parse(path ? path : SYSFS_BTF, NULL);
	if (!btf) {
		snprintf(err, errlen, "cannot parse BTF from %s: %s", path ? path : SYSFS_BTF,
			 strerror(errno));
		return NULL;
	}
	return btf;
}

/* tp_btf programs find a tracepoint through the typedef btf_trace_<name> the kernel emits for
 * it. */
bool kernel_has_tracepoint(const struct btf *btf, const char *name)
{
	char tname[128];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF) > 0;
}

int kernel_tracepoint_nargs(const struct btf *btf, const char *name)
{
	const struct btf_type *t;
	char tname[128];
	int id;

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	id = btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return -ENOENT;
	/* typedef -> pointer -> function prototype (void *__data, args...) */
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -EINVAL;
	return btf_vlen(t) - 1;
}

bool kernel_enum_value(const struct btf *btf, const char *name, long long *value)
{
	__u32 id, n = btf__type_cnt(btf);

	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e;
		__u16 i;

		if (!btf_is_enum(t))
			continue;
		e = btf_enum(t);
		for (i = 0; i < btf_vlen(t); i++, e++) {
			if (!strcmp(btf__name_by_offset(btf, e->name_off), name)) {
				*value = e->val;
				return true;
			}
		}
	}
	return false;
}

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool cap_effective(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int kernel_check_privileges(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	bool admin, bpf, perfmon, ptrace;

	/* glibc has no capget wrapper without libcap; the raw call is two lines. */
	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(err, errlen, "cannot read capabilities: %s", strerror(errno));
		return -errno;
	}
	admin = cap_effective(data, CAP_SYS_ADMIN);
	bpf = cap_effective(data, CAP_BPF) || admin;
	perfmon = cap_effective(data, CAP_PERFMON) || admin;
	ptrace = cap_effective(data, CAP_SYS_PTRACE);
	if (bpf && perfmon && ptrace)
		return 0;
	snprintf(err, errlen,
		 "needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE); missing:%s%s%s",
		 bpf ? "" : " CAP_BPF", perfmon ? "" : " CAP_PERFMON",
		 ptrace ? "" : " CAP_SYS_PTRACE");
	return -EPERM;
}

/* Two passes over /proc/kallsyms (it is not sorted: modules): the address of each text symbol
 * names[i], then the lowest address above it, where the next symbol starts (its end). */
int kernel_ksym_ranges(const char *const *names, int n, unsigned long long *lo,
		       unsigned long long *hi)
{
	unsigned long long addr;
	char line[512], sym[256], type;
	int i, found = 0;
	FILE *f;

	for (i = 0; i < n; i++)
		lo[i] = hi[i] = 0;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && addr &&
		    (type == 't' || type == 'T'))
			for (i = 0; i < n; i++)
				if (!lo[i] && !strcmp(sym, names[i]) && ++found)
					lo[i] = addr;
	if (found) {
		rewind(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3)
				for (i = 0; i < n; i++)
					if (lo[i] && addr > lo[i] && (!hi[i] || addr < hi[i]))
						hi[i] = addr;
	}
	fclose(f);
	for (i = 0; i < n; i++)
		if (!hi[i])
			lo[i] = 0;
	return found ? 0 : -ENOENT;
}

int kernel_ksym_range(const char *name, unsigned long long *lo, unsigned long long *hi)
{
	kernel_ksym_ranges(&name, 1, lo, hi);
	return *lo ? 0 : -ENOENT;
}

/* A do-nothing fentry program on function, loaded and attached: what decides whether BPF
 * trampolines work here (the kernel's BTF may list the function and still refuse: no
 * trampolines on the architecture, or a lockdown/LSM policy). */
const char *kernel_fentry_works(const char *function, char *buf, size_t len)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id, fd, link;

	if (!vmlinux) {
		snprintf(buf, len, "the running kernel exposes no BTF (fentry needs it)");
		return buf;
	}
	id = btf__find_by_name_kind(vmlinux, function, BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id <= 0) {
		snprintf(buf, len, "%s is not a function in the kernel's BTF (inlined)", function);
		return buf;
	}
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
		    .attach_btf_id = id);
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "cowtrace_probe", "GPL", insns, 2, &opts);
	if (fd < 0) {
		snprintf(buf, len, "fentry on %s refused: %s", function, strerror(errno));
		return buf;
	}
	link = bpf_raw_tracepoint_open(NULL, fd);
	if (link < 0) {
		snprintf(buf, len, "fentry on %s cannot attach: %s", function, strerror(errno));
		close(fd);
		return buf;
	}
	close(link);
	close(fd);
	return NULL;
}

/* kprobe on function: it must be a symbol of its own (not inlined), and a kprobe perf event on
 * it must open (CONFIG_KPROBES, and not on the kprobe blacklist), as libbpf attaches one. */
const char *kernel_kprobe_works(const char *function, char *buf, size_t len)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	unsigned long long lo, hi;
	int type, fd;
	FILE *f;

	f = fopen("/sys/bus/event_source/devices/kprobe/type", "re");
	if (!f) {
		snprintf(buf, len, "the kernel has no kprobes (CONFIG_KPROBES)");
		return buf;
	}
	if (fscanf(f, "%d", &type) != 1)
		type = -1;
	fclose(f);
	if (kernel_ksym_range(function, &lo, &hi)) {
		snprintf(buf, len, "%s is not in /proc/kallsyms (inlined, or addresses hidden)",
			 function);
		return buf;
	}
	attr.type = type;
	attr.config1 = (unsigned long long)(uintptr_t)function; /* kprobe_func */
	fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		snprintf(buf, len, "kprobe on %s refused: %s", function, strerror(errno));
		return buf;
	}
	close(fd);
	return NULL;
}

/* Whether the running kernel preempts tasks anywhere in kernel code ("full", "lazy" or RT),
 * not only at explicit points ("none", "voluntary"). The live mode is in debugfs
 * (sched/preempt: "none voluntary (full) lazy", the current one in parentheses); without it,
 * the build's default from its config. */
bool kernel_fully_preemptible(char *mode, size_t len)
{
	char buf[128], path[160], line[256], *open_paren, *close_paren;
	bool full = false;
	struct utsname u;
	FILE *f;

	snprintf(mode, len, "unknown");
	f = fopen("/sys/kernel/debug/sched/preempt", "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && (open_paren = strchr(buf, '(')) &&
		    (close_paren = strchr(open_paren, ')'))) {
			*close_paren = '\0';
			snprintf(mode, len, "%s", open_paren + 1);
			full = strcmp(mode, "none") && strcmp(mode, "voluntary");
		}
		fclose(f);
		return full;
	}
	if (uname(&u))
		return false;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "CONFIG_PREEMPT=y\n") || !strcmp(line, "CONFIG_PREEMPT_LAZY=y\n") ||
		    !strcmp(line, "CONFIG_PREEMPT_RT=y\n")) {
			line[strlen(line) - 3] = '\0';
			snprintf(mode, len, "%s (the build's default)", line + 7);
			full = true;
		}
	}
	fclose(f);
	return full;
}

/*
 * The zero page's frame, found by looking: a page of this process that has only been read is
 * the kernel's shared zero page (where the kernel maps it at all), which /proc/self/pagemap
 * gives as a frame and /proc/kpageflags marks KPF_ZERO_PAGE. Reading it beats naming it: on
 * arm64 the zero page's frame is in no variable kallsyms shows (Debian's 6.1 lists functions
 * only), and the flag makes sure a kernel that gave the read a page of its own is not believed.
 */
#define KPF_ZERO_PAGE 24 /* include/uapi/linux/kernel-page-flags.h */

unsigned long long kernel_zero_pfn(void)
{
	unsigned long long entry = 0, phys = 0;
	long page = sysconf(_SC_PAGESIZE);
	volatile char *p;
	int pm;

	p = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	(void)p[0];
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm >= 0 &&
	    pread(pm, &entry, sizeof(entry), (off_t)((uintptr_t)p / page * sizeof(entry))) ==
		    sizeof(entry))
		phys = procfs_pagemap_phys(entry);
	if (pm >= 0)
		close(pm);
	munmap((void *)p, page);
	return phys && (procfs_kpageflags(phys) & (1ULL << KPF_ZERO_PAGE)) ? phys / page : 0;
}
