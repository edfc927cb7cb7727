// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Bounded, defensive parsing of /proc files (see procfs.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs.h"

/* A stat line is under 1 KiB (52 numeric fields and a comm of at most 64 bytes). */
#define STAT_MAX 4096
/* A maps line: about 100 bytes of fields, then a path of up to PATH_MAX. */
#define MAPS_LINE_MAX (4096 + 256)

static const char *proc_root(const char *root)
{
	return root ? root : "/proc";
}

/* root/PID or root/PID/file */
static int proc_path(char *out, size_t n, const char *root, int pid, const char *file)
{
	int len;

	if (pid <= 0)
		return -EINVAL;
	if (file)
		len = snprintf(out, n, "%s/%d/%s", proc_root(root), pid, file);
	else
		len = snprintf(out, n, "%s/%d", proc_root(root), pid);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

/* Up to cap bytes of a file; returns how many were read or -errno. */
static ssize_t read_bounded(const char *path, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	return got;
}

/* Decimal digits only, within max; len bytes of s. */
static int parse_dec(const char *s, size_t len, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (max - (s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Advance past one ' ' and the field after it (at *field, flen bytes). False at the line's end. */
static bool next_field(const char **p, const char *end, const char **field, size_t *flen)
{
	const char *s = *p;

	if (s >= end || *s != ' ')
		return false;
	s++;
	*field = s;
	while (s < end && *s != ' ' && *s != '\n')
		s++;
	*flen = s - *field;
	*p = s;
	return *flen > 0;
}

/*
 * /proc/PID/file (a file, or with link the target of a symbolic link) into the caller's
 * buf[len], NUL-terminated; its length, or -errno (buf then empty). -ENAMETOOLONG when it did
 * not fit: a link that may have been cut.
 */
static ssize_t read_text(const char *root, int pid, const char *file, bool link, char *buf,
			 size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int err;

	if (!buf || !len || len > INT_MAX)
		return -EINVAL;
	buf[0] = '\0';
	err = proc_path(path, sizeof(path), root, pid, file);
	if (err)
		return err;
	if (link) {
		n = readlink(path, buf, len);
		if (n < 0)
			return -errno;
	} else {
		n = read_bounded(path, buf, len - 1);
		if (n < 0)
			return n;
	}
	if ((size_t)n >= len) { /* no room for the NUL */
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	buf[n] = '\0';
	return n;
}

int procfs_read_stat(const char *root, int pid, struct proc_stat *st)
{
	struct proc_stat tmp; /* *st is only written on success */
	const char *lparen, *rparen, *p, *end, *field;
	unsigned long long v;
	char buf[STAT_MAX];
	size_t flen, clen;
	ssize_t n;

	if (!st)
		return -EINVAL;
	n = read_text(root, pid, "stat", false, buf, sizeof(buf));
	if (n < 0)
		return n;
	end = buf + n;

	/* "PID (comm) S PPID ..."; comm may itself hold ") (", so its end is the last ')'. */
	lparen = memchr(buf, '(', n);
	rparen = memrchr(buf, ')', n);
	if (!lparen || !rparen || rparen < lparen || lparen == buf || lparen[-1] != ' ')
		return -EINVAL;
	if (parse_dec(buf, lparen - 1 - buf, PROCFS_PID_MAX, &v) || (int)v != pid)
		return -EINVAL;
	tmp.pid = v;
	clen = rparen - lparen - 1;
	if (clen > sizeof(tmp.comm) - 1)
		clen = sizeof(tmp.comm) - 1;
	memcpy(tmp.comm, lparen + 1, clen);
	tmp.comm[clen] = '\0';

	p = rparen + 1;
	if (!next_field(&p, end, &field, &flen) || flen != 1) /* 3: state */
		return -EINVAL;
	tmp.state = field[0];
	if (!next_field(&p, end, &field, &flen) || /* 4: ppid */
	    parse_dec(field, flen, PROCFS_PID_MAX, &v))
		return -EINVAL;
	tmp.ppid = v;
	tmp.flags = 0;
	for (int i = 5; i < 22; i++) { /* pgrp .. itrealvalue: flags (9) kept, the rest skipped */
		if (!next_field(&p, end, &field, &flen))
			return -EINVAL;
		if (i == 9 && parse_dec(field, flen, ULLONG_MAX, &tmp.flags))
			return -EINVAL;
	}
	if (!next_field(&p, end, &field, &flen) || /* 22: starttime */
	    parse_dec(field, flen, ULLONG_MAX, &v))
		return -EINVAL;
	tmp.start_ticks = v;
	*st = tmp;
	return 0;
}

int procfs_read_cmdline(const char *root, int pid, char *buf, size_t len)
{
	ssize_t n = read_text(root, pid, "cmdline", false, buf, len);

	/* Arguments are NUL-separated (and usually NUL-terminated). */
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			buf[i] = ' ';
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

int procfs_read_exe(const char *root, int pid, char *buf, size_t len)
{
	return read_text(root, pid, "exe", true, buf, len);
}

struct proc_link {
	int pid;
	int ppid;
	bool taken; /* already in the result: guards against cycles in a bogus tree */
};

static int by_ppid(const void *a, const void *b)
{
	const struct proc_link *x = a, *y = b;

	return (x->ppid > y->ppid) - (x->ppid < y->ppid);
}

/* Read every /proc/N/stat into *links; returns the count or -errno. */
static int read_links(const char *root, struct proc_link **links)
{
	struct proc_link *all = NULL, *bigger;
	size_t count = 0, cap = 0;
	struct proc_stat st;
	struct dirent *d;
	DIR *dir;
	int pid, err = 0;

	dir = opendir(proc_root(root));
	if (!dir)
		return -errno;
	for (;;) {
		errno = 0;
		d = readdir(dir);
		if (!d) {
			err = -errno;
			break;
		}
		if (procfs_parse_pid(d->d_name, &pid))
			continue; /* not a process: "self", "sys", ... */
		if (procfs_read_stat(root, pid, &st))
			continue; /* exited since readdir, or not a stat we can trust */
		if (count == cap) {
			cap = cap ? cap * 2 : 256;
			bigger = realloc(all, cap * sizeof(*all));
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			all = bigger;
		}
		all[count++] = (struct proc_link){.pid = st.pid, .ppid = st.ppid};
	}
	closedir(dir);
	if (err) {
		free(all);
		return err;
	}
	*links = all;
	return count;
}

int procfs_descendants(const char *root, int root_pid, int **pids)
{
	struct proc_link *links = NULL;
	size_t head = 0, tail = 0;
	int *out;
	int n;

	if (!pids)
		return -EINVAL;
	*pids = NULL;
	n = read_links(root, &links);
	if (n <= 0)
		return n;
	out = malloc(n * sizeof(*out));
	if (!out) {
		free(links);
		return -ENOMEM;
	}

	/* Breadth first: out[head..tail) are found but their children not yet looked up. */
	qsort(links, n, sizeof(*links), by_ppid);
	for (int parent = root_pid;; parent = out[head++]) {
		int lo = 0, hi = n;

		while (lo < hi) { /* first link with ppid >= parent */
			int mid = lo + (hi - lo) / 2;

			if (links[mid].ppid < parent)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (int i = lo; i < n && links[i].ppid == parent; i++) {
			if (links[i].taken || links[i].pid == root_pid)
				continue;
			links[i].taken = true;
			out[tail++] = links[i].pid;
		}
		if (head == tail)
			break;
	}
	free(links);
	if (!tail) {
		free(out);
		return 0;
	}
	*pids = out;
	return tail;
}

static bool parse_hex(const char **p, unsigned long long max, unsigned long long *out)
{
	const char *s = *p;
	unsigned long long v = 0;
	int digit;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digit = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			digit = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			digit = *s - 'A' + 10;
		else
			break;
		if (v > (max - digit) / 16)
			return false;
		v = v * 16 + digit;
	}
	if (s == *p)
		return false;
	*out = v;
	*p = s;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static bool parse_perms(const char **p, char perms[5])
{
	static const char allowed[4][3] = {"r-", "w-", "x-", "ps"};
	const char *s = *p;

	for (int i = 0; i < 4; i++) {
		if (!s[i] || !strchr(allowed[i], s[i]))
			return false;
		perms[i] = s[i];
	}
	perms[4] = '\0';
	*p = s + 4;
	return true;
}

/* "start-end perms offset major:minor inode [padding path]" */
int procfs_parse_maps_line(const char *line, struct map_entry *e)
{
	unsigned long long start, end, offset, major, minor, inode;
	const char *p = line, *path, *stop;
	size_t plen;

	if (!line || !e)
		return -EINVAL;
	if (!parse_hex(&p, ULONG_MAX, &start) || !expect(&p, '-') ||
	    !parse_hex(&p, ULONG_MAX, &end) || !expect(&p, ' ') || !parse_perms(&p, e->perms) ||
	    !expect(&p, ' ') || !parse_hex(&p, ULONG_MAX, &offset) || !expect(&p, ' ') ||
	    !parse_hex(&p, UINT_MAX, &major) || !expect(&p, ':') ||
	    !parse_hex(&p, UINT_MAX, &minor) || !expect(&p, ' '))
		return -EINVAL;
	stop = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (parse_dec(stop, p - stop, ULLONG_MAX, &inode))
		return -EINVAL;
	if (start > end)
		return -EINVAL;

	/* The kernel pads to a column before the path; with no path the line just ends. */
	if (*p && *p != '\n' && *p != ' ')
		return -EINVAL;
	while (*p == ' ')
		p++;
	path = p;
	stop = strchr(path, '\n');
	plen = stop ? (size_t)(stop - path) : strlen(path);
	if (stop && stop[1])
		return -EINVAL; /* more than one line */
	if (plen >= sizeof(e->path))
		return -EINVAL;

	e->start = start;
	e->end = end;
	e->offset = offset;
	e->dev_major = major;
	e->dev_minor = minor;
	e->inode = inode;
	memcpy(e->path, path, plen);
	e->path[plen] = '\0';
	return 0;
}

int procfs_for_each_map(const char *root, int pid, int (*fn)(const struct map_entry *e, void *ctx),
			void *ctx)
{
	char path[PATH_MAX];
	struct map_entry *e;
	char *line;
	FILE *f;
	int err;

	if (!fn)
		return -EINVAL;
	err = proc_path(path, sizeof(path), root, pid, "maps");
	if (err)
		return err;
	/* Both are too big to be polite on the stack of a caller that may be deep already. */
	line = malloc(MAPS_LINE_MAX);
	e = malloc(sizeof(*e));
	f = fopen(path, "re");
	if (!line || !e || !f) {
		err = f ? -ENOMEM : -errno;
		goto out;
	}
	while (fgets(line, MAPS_LINE_MAX, f)) {
		/* A line without '\n' is either the last one or longer than any real one. */
		if (!strchr(line, '\n') && !feof(f)) {
			err = -EINVAL;
			goto out;
		}
		err = procfs_parse_maps_line(line, e);
		if (err)
			goto out;
		err = fn(e, ctx);
		if (err)
			goto out;
	}
	if (ferror(f))
		err = -EIO;
out:
	if (f)
		fclose(f);
	free(e);
	free(line);
	return err;
}

int procfs_pid_exists(const char *root, int pid)
{
	char path[PATH_MAX];
	struct stat sb;
	int err;

	err = proc_path(path, sizeof(path), root, pid, NULL);
	if (err)
		return err;
	if (stat(path, &sb) == 0)
		return S_ISDIR(sb.st_mode) ? 1 : 0;
	if (errno == ENOENT || errno == ENOTDIR || errno == ESRCH)
		return 0;
	return -errno;
}

int procfs_parse_pid(const char *s, int *pid)
{
	unsigned long long v;

	if (!s || !pid)
		return -EINVAL;
	if (parse_dec(s, strnlen(s, 16), PROCFS_PID_MAX, &v) || s[strnlen(s, 16)] || v == 0)
		return -EINVAL;
	*pid = v;
	return 0;
}

/* The value of the first line of a /proc/PID/status text starting with key, or NULL. */
static char *status_field(char *buf, const char *key)
{
	size_t klen = strlen(key);
	char *line;

	for (line = buf; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (!strncmp(line, key, klen))
			return line + klen + strspn(line + klen, " \t");
	}
	return NULL;
}

int procfs_read_tgid(const char *root, int pid)
{
	char buf[4096], *v;
	unsigned long long tgid;
	ssize_t n;

	n = read_text(root, pid, "status", false, buf, sizeof(buf));
	if (n < 0)
		return n;
	v = status_field(buf, "Tgid:");
	if (!v || parse_dec(v, strcspn(v, "\n"), PROCFS_PID_MAX, &tgid) || !tgid)
		return -EINVAL;
	return tgid;
}

int procfs_read_ns_pid(const char *root, int pid)
{
	char buf[4096], *v, *tok, *save;
	unsigned long long nspid = 0;
	ssize_t n;

	n = read_text(root, pid, "status", false, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* "NSpid:\t4242\t7\t1": the pid in each pid namespace, outermost (ours) first */
	v = status_field(buf, "NSpid:");
	if (!v)
		return -ENOENT; /* before Linux 4.1 */
	v[strcspn(v, "\n")] = '\0';
	for (tok = strtok_r(v, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		if (parse_dec(tok, strlen(tok), PROCFS_PID_MAX, &nspid) || !nspid)
			return -EINVAL;
	return nspid ? (int)nspid : -EINVAL;
}

int procfs_read_cgroup(const char *root, int pid, char *out, size_t len)
{
	char buf[8192], *line;
	ssize_t n;
	size_t plen;

	if (!len)
		return -EINVAL;
	n = read_text(root, pid, "cgroup", false, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* the unified hierarchy's line, "0::/system.slice/x.service"; v1 lines name controllers */
	for (line = buf; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (strncmp(line, "0::", 3))
			continue;
		line += 3;
		plen = strcspn(line, "\n");
		if (!plen || line[0] != '/' || plen >= len)
			return -EINVAL;
		memcpy(out, line, plen);
		out[plen] = '\0';
		return 0;
	}
	return -ENOENT;
}

int procfs_read_smaps_rollup(const char *root, int pid, struct proc_mem *m)
{
	static const char *const keys[] = { "Rss:", "Pss:", "Shared_Clean:", "Shared_Dirty:",
					    "Private_Clean:", "Private_Dirty:" };
	unsigned long long v[6];
	char buf[4096], *f;
	ssize_t n;
	size_t i;

	n = read_text(root, pid, "smaps_rollup", false, buf, sizeof(buf));
	if (n < 0)
		return n;
	for (i = 0; i < 6; i++) {
		f = status_field(buf, keys[i]);
		/* "Rss:              123456 kB" */
		if (!f || parse_dec(f, strcspn(f, " \n"), 1ULL << 50, &v[i]) ||
		    strncmp(f + strcspn(f, " \n"), " kB", 3))
			return -EINVAL;
	}
	m->rss_kb = v[0];
	m->pss_kb = v[1];
	m->shared_kb = v[2] + v[3];
	m->uss_kb = v[4] + v[5];
	return 0;
}

int procfs_mem_open(int pid)
{
	char path[64];
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int procfs_mem_read(int fd, unsigned long long addr, void *buf, size_t len)
{
	ssize_t n;

	if (!len)
		return 0;
	n = pread(fd, buf, len, (off_t)addr);
	if (n < 0)
		return -errno;
	/* a read across the end of a mapping stops short: all or nothing */
	return (size_t)n == len ? 0 : -EFAULT;
}

size_t procfs_map_path_len(const struct map_entry *e)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	size_t len = strnlen(e->path, sizeof(e->path));

	if (len > dlen && !memcmp(e->path + len - dlen, deleted, dlen))
		len -= dlen;
	return len;
}

int procfs_open_mapped(int pid, const struct map_entry *e)
{
	char path[96], rooted[sizeof(e->path) + 32];
	size_t len = procfs_map_path_len(e);
	struct stat st;
	int fd;

	if (e->path[0] != '/' || !e->inode || strnlen(e->path, sizeof(e->path)) == sizeof(e->path))
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, e->start, e->end);
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0 && errno == EPERM) {
		/* a binary replaced or removed since it was mapped: by its old name, which the
		 * checks below reject if another file has it now */
		snprintf(rooted, sizeof(rooted), "/proc/%d/root%.*s", pid, (int)len, e->path);
		fd = open(rooted, O_PATH | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_ino != e->inode ||
	    st.st_dev != makedev(e->dev_major, e->dev_minor)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int procfs_read_mapped(int pid, const struct map_entry *e)
{
	int pfd = procfs_open_mapped(pid, e), fd;
	char self[64];
	struct stat st;

	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st)) {
		fd = -errno;
	} else if ((unsigned long long)st.st_size > PROCFS_ELF_READ_MAX) {
		fd = -EFBIG;
	} else {
		/* O_NONBLOCK, O_NOCTTY: no open side effect, should the checked file be swapped
		 * for a FIFO or a device between the two opens (the inode check rules it out) */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
		fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			fd = -errno;
	}
	close(pfd);
	return fd;
}

/* /proc/PID/pagemap's entry (Documentation/admin-guide/mm/pagemap.rst) */
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_PFN	((1ULL << 55) - 1)

unsigned long long procfs_pagemap_phys(unsigned long long entry)
{
	if (!(entry & PAGEMAP_PRESENT))
		return 0;
	return (entry & PAGEMAP_PFN) * (unsigned long long)sysconf(_SC_PAGESIZE);
}

unsigned long long procfs_kpageflags(unsigned long long phys)
{
	unsigned long long flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &flags, sizeof(flags),
		  (off_t)(phys / (unsigned long long)sysconf(_SC_PAGESIZE) * sizeof(flags))) !=
	    sizeof(flags))
		flags = 0;
	close(fd);
	return flags;
}
