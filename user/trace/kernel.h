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
/* How many arguments the raw tracepoint NAME passes; negative when it is not there. */
int kernel_tracepoint_nargs(const struct btf *btf, const char *name);
/* The value of an enumerator anywhere in the BTF; false when there is none. */
bool kernel_enum_value(const struct btf *btf, const char *name, long long *value);
/* 0 when we may load BPF programs and read other processes (root, or CAP_BPF + CAP_PERFMON +
 * CAP_SYS_PTRACE), else -EPERM with the reason in err. */
int kernel_check_privileges(char *err, size_t errlen);
/* [*lo, *hi): the text of kernel function name, from /proc/kallsyms; -ENOENT when it is not a
 * symbol of its own (inlined) or addresses are hidden. */
int kernel_ksym_range(const char *name, unsigned long long *lo, unsigned long long *hi);
/* The same for n names at once (two passes over kallsyms in all): lo[i] and hi[i] 0 for a name
 * that is not there. -ENOENT when none is. */
int kernel_ksym_ranges(const char *const *names, int n, unsigned long long *lo,
		       unsigned long long *hi);
/* Whether the kernel can preempt a task anywhere in kernel code (its mode in mode). */
bool kernel_fully_preemptible(char *mode, size_t len);
/* NULL when an fentry program on function loads and attaches here, else why not (in buf). */
const char *kernel_fentry_works(const char *function, char *buf, size_t len);
/* NULL when a kprobe on function can be opened here, else why not (in buf). */
const char *kernel_kprobe_works(const char *function, char *buf, size_t len);
/* The frame number of the kernel's shared zero page; 0 when this kernel maps none for a read
 * (or pagemap and kpageflags cannot be read). */
unsigned long long kernel_zero_pfn(void);

#endif
