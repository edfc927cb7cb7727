// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <bpf/btf.h>
#include "kernel.h"

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

/* tp_btf programs find a tracepoint through the typedef btf_trace_<name> the kernel emits for it. */
bool kernel_has_tracepoint(const struct btf *btf, const char *name)
{
	char tname[128];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF) > 0;
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
