// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading /proc. The /proc root is a parameter (NULL means "/proc") so that unit tests can use a
 * fake tree. Every read is bounded and every file is treated as untrusted: a comm may hold spaces,
 * parentheses and newlines, a command line arbitrary bytes. Failures return a negative errno:
 * -ENOENT when the process (or file) is gone, -EINVAL when the contents do not parse.
 */
#ifndef COWTRACE_PROCFS_H
#define COWTRACE_PROCFS_H

#include <stddef.h>

/* pid_max can be raised to at most 2^22 (PID_MAX_LIMIT on 64-bit). */
#define PROCFS_PID_MAX 4194304
/*
 * The largest file a traced process maps that cowtrace reads as ELF (an interpreter, or a
 * library for --native symbols): libelf reads a section whole, and a target can map a sparse
 * file of any size named like libpython. CPython builds with their symbols are 5 to 60 MiB.
 */
#define PROCFS_ELF_READ_MAX (512ULL << 20)

struct proc_stat {
	int pid;
	int ppid;
	char state;
	char comm[16 + 1]; /* truncated if longer (kernel threads may show up to 64 bytes) */
	unsigned long long start_ticks; /* field 22, clock ticks after boot */
	unsigned long long flags;	/* field 9, the task's PF_* flags */
};

#define PROCFS_PF_KTHREAD 0x00200000ULL /* PF_KTHREAD in field 9: a kernel thread */

/* /proc/PID/stat; comm is what lies between the first '(' and the last ')'. */
int procfs_read_stat(const char *root, int pid, struct proc_stat *st);

/*
 * /proc/PID/cmdline into buf: NULs become spaces, trailing spaces are trimmed, and a long command
 * line is cut at len - 1 bytes. Returns the length, 0 for kernel threads and zombies, or -errno.
 */
int procfs_read_cmdline(const char *root, int pid, char *buf, size_t len);

/* readlink of /proc/PID/exe; returns the length, -ENAMETOOLONG if buf is too short, or -errno. */
int procfs_read_exe(const char *root, int pid, char *buf, size_t len);

/*
 * All pids that descend from root_pid (not including it), found from the ppid in every
 * /proc/N/stat. Only /proc/N is read, never /proc/N/task: threads are not processes. Processes
 * that vanish or whose stat does not parse are skipped. *pids is malloc'd (NULL when there are
 * none). Returns the count or -errno.
 */
int procfs_descendants(const char *root, int root_pid, int **pids);

struct map_entry {
	unsigned long start, end, offset;
	unsigned long long inode;
	unsigned int dev_major, dev_minor;
	char perms[5];
	char path[4096]; /* may be empty, "[heap]", contain spaces or end in " (deleted)" */
};

/*
 * The regular file that pid maps as e, opened once as O_PATH (no open side effects, whatever it
 * is) and checked: a regular file with the device and inode /proc/PID/maps gives for it, so that
 * what cowtrace reads and probes through this descriptor (as /proc/self/fd/N) is the file
 * mapped, whatever the process renames, swaps or replaces. Reached through
 * /proc/PID/map_files/START-END, which also leads to a file deleted or replaced since, or that
 * only the process's mount namespace has; without the capability that needs (CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE), by its path in the process's root. The descriptor, or -errno.
 */
int procfs_open_mapped(int pid, const struct map_entry *e);
/* The same file opened for reading (through procfs_open_mapped()'s descriptor), for parsing as
 * an ELF file: -EFBIG when it is larger than PROCFS_ELF_READ_MAX. The descriptor, or -errno. */
int procfs_read_mapped(int pid, const struct map_entry *e);
/* The length of e's path without the " (deleted)" the kernel appends to a file removed or
 * replaced since it was mapped: the name the process mapped it by. */
size_t procfs_map_path_len(const struct map_entry *e);

/* The physical address of the page at the start of an entry of /proc/PID/pagemap, 0 when the
 * page is not present or the kernel hides frame numbers (no CAP_SYS_ADMIN). */
unsigned long long procfs_pagemap_phys(unsigned long long entry);
/* The /proc/kpageflags word of the page at physical address phys (KPF_* bits of
 * include/uapi/linux/kernel-page-flags.h), 0 when it cannot be read. */
unsigned long long procfs_kpageflags(unsigned long long phys);

/* One line of /proc/PID/maps (with or without its '\n'). 0 or -EINVAL. */
int procfs_parse_maps_line(const char *line, struct map_entry *e);

/*
 * Calls fn for each line of /proc/PID/maps. Stops early and returns fn's value if fn returns
 * non-zero; returns -EINVAL at a line that does not parse, 0 at the end, or -errno.
 */
int procfs_for_each_map(const char *root, int pid, int (*fn)(const struct map_entry *e, void *ctx),
			void *ctx);

/* 1 if /proc/PID exists, 0 if not, or -errno. A thread id also "exists" (as /proc/TID does). */
int procfs_pid_exists(const char *root, int pid);
/* The thread group (process) id of a task id, from /proc/PID/status; -errno when unreadable.
 * /proc/TID exists for threads too, though readdir does not list them. */
int procfs_read_tgid(const char *root, int pid);

/* pid's pid in its own (innermost) pid namespace, from NSpid in /proc/PID/status; the same as pid
 * outside any; -errno when unreadable (-ENOENT: a kernel without NSpid). */
int procfs_read_ns_pid(const char *root, int pid);
/* pid's cgroup v2 path ("/system.slice/x.service"), from /proc/PID/cgroup, into out (len bytes):
 * 0, -ENOENT without the unified hierarchy, -EINVAL when it does not fit or parse, -errno. */
int procfs_read_cgroup(const char *root, int pid, char *out, size_t len);

/* What the process's memory costs, from /proc/PID/smaps_rollup (kB): resident, proportional
 * (shared pages divided among their sharers), unique (private), and shared resident. */
struct proc_mem {
	unsigned long long rss_kb, pss_kb, uss_kb, shared_kb;
};
/* 0, -ENOENT when gone, -EINVAL when it does not parse, -errno. */
int procfs_read_smaps_rollup(const char *root, int pid, struct proc_mem *m);

/*
 * The one way cowtrace reads another process's memory: /proc/PID/mem, never process_vm_readv(),
 * which pins the pages (FOLL_PIN): since Linux 5.19 a read-only pin of an anonymous page shared
 * after fork unshares it, which is a copy-on-write copy of the target's memory. /proc/PID/mem
 * takes plain references (FOLL_GET), which leave the sharing alone: the tracer must not make
 * the copies it counts. procfs_mem_open() returns the descriptor or -errno;
 * procfs_mem_read() reads all of [addr, addr + len) or fails (-errno, -EFAULT when short).
 */
int procfs_mem_open(int pid);
int procfs_mem_read(int fd, unsigned long long addr, void *buf, size_t len);

/* A pid argument: decimal digits only, 1..PROCFS_PID_MAX, no sign, space or trailing garbage. */
int procfs_parse_pid(const char *s, int *pid);

#endif /* COWTRACE_PROCFS_H */
