/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the running kernel offers, read from its BTF before anything is loaded. */
#ifndef COWTRACE_KERNEL_H
#define COWTRACE_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

/* The kernel's BTF (path NULL: /sys/kernel/btf/vmlinux). NULL with a one-line reason in err. */
struct btf *kernel_btf_load(const char *path, char *err, size_t errlen);
/* "kernel", or "BTF file PATH" when --btf named one: the subject of messages about the BTF. */
const char *kernel_btf_label(void);
/* Does the kernel have the raw tracepoint NAME (as tp_btf programs attach to it)? */
bool kernel_has_tracepoint(const struct btf *btf, const char *name);
/* The value of an enumerator anywhere in the BTF; false when there is none. */
bool kernel_enum_value(const struct btf *btf, const char *name, long long *value);
/* 0 when we may load BPF programs and read other processes (root, or CAP_BPF + CAP_PERFMON +
 * CAP_SYS_PTRACE), else -EPERM with the reason in err. */
int kernel_check_privileges(char *err, size_t errlen);

#endif
