// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for the /proc readers, on a fake /proc tree in a temporary directory (hostile
 * contents included) and, where it is safe, on the real /proc.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfs.h"

struct fake {
	char root[64];
};

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->root, "/tmp/cowtrace-procfs-XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	int err = nftw(f->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	free(f);
	return err;
}

/* mkdir -p of every directory in rel (relative to root) before its last component */
static void make_parents(const char *root, const char *rel)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);

	assert_true(n > 0 && (size_t)n < sizeof(path));
	for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*s = '/';
	}
}

/* Write len bytes (which may hold NULs) to root/rel. */
static void put_bytes(const char *root, const char *rel, const char *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	make_parents(root, rel);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void put_text(const char *root, const char *rel, const char *text)
{
	put_bytes(root, rel, text, strlen(text));
}

/* A realistic stat line at root/rel: fields 5..21 filled in, starttime in 22, more after it. */
static void put_stat_at(const char *root, const char *rel, int pid, const char *comm, char state,
			int ppid, unsigned long long start)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "%d (%s) %c %d 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu 12345678 2000 "
		 "18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 3 0 0 0 0 0\n",
		 pid, comm, state, ppid, start);
	put_text(root, rel, line);
}

static void put_stat(const char *root, int pid, const char *comm, char state, int ppid,
		     unsigned long long start)
{
	char rel[32];

	snprintf(rel, sizeof(rel), "%d/stat", pid);
	put_stat_at(root, rel, pid, comm, state, ppid, start);
}

static void test_stat_plain(void **state)
{
	struct fake *f = *state;
	struct proc_stat st;

	put_stat(f->root, 123, "python3", 'S', 1, 98765);
	assert_int_equal(procfs_read_stat(f->root, 123, &st), 0);
	assert_int_equal(st.pid, 123);
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.state, 'S');
	assert_string_equal(st.comm, "python3");
	assert_true(st.start_ticks == 98765);
}

static void test_stat_hostile_comm(void **state)
{
	struct fake *f = *state;
	struct proc_stat st;

	put_stat(f->root, 124, "a) b ) (c", 'R', 7, 5);
	assert_int_equal(procfs_read_stat(f->root, 124, &st), 0);
	assert_string_equal(st.comm, "a) b ) (c");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 7);
	assert_true(st.start_ticks == 5);

	/* a comm that looks like the rest of a stat line */
	put_stat(f->root, 125, "x) Z 99 1 1 0", 'S', 8, 6);
	assert_int_equal(procfs_read_stat(f->root, 125, &st), 0);
	assert_string_equal(st.comm, "x) Z 99 1 1 0");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 8);

	put_stat(f->root, 126, "new\nline", 'S', 9, 7);
	assert_int_equal(procfs_read_stat(f->root, 126, &st), 0);
	assert_string_equal(st.comm, "new\nline");

	put_stat(f->root, 127, "", 'S', 9, 7);
	assert_int_equal(procfs_read_stat(f->root, 127, &st), 0);
	assert_string_equal(st.comm, "");

	/* kernel threads may show more than 15 characters: cut to the struct's 16 */
	put_stat(f->root, 128, "kworker/u8:1-events_unbound", 'I', 2, 7);
	assert_int_equal(procfs_read_stat(f->root, 128, &st), 0);
	assert_string_equal(st.comm, "kworker/u8:1-eve");
	assert_int_equal(st.state, 'I');
	assert_int_equal(st.ppid, 2);

	/* a NUL inside comm ends the string, nothing worse */
	put_bytes(f->root, "129/stat", "129 (a\0b) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0\n",
		  56);
	assert_int_equal(procfs_read_stat(f->root, 129, &st), 0);
	assert_string_equal(st.comm, "a");
	assert_true(st.start_ticks == 55);
}

static void test_stat_huge_file_is_bounded(void **state)
{
	struct fake *f = *state;
	char *big = malloc(100000);
	struct proc_stat st;
	int n;

	assert_non_null(big);
	n = snprintf(big, 200, "130 (big) S 4 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 ");
	memset(big + n, '7', 100000 - n);
	put_bytes(f->root, "130/stat", big, 100000);
	free(big);
	assert_int_equal(procfs_read_stat(f->root, 130, &st), 0);
	assert_int_equal(st.ppid, 4);
	assert_true(st.start_ticks == 77);
}

static void assert_stat_rejected(const char *root, int pid, const char *content, int want)
{
	char rel[32];
	struct proc_stat st, before;

	snprintf(rel, sizeof(rel), "%d/stat", pid);
	put_text(root, rel, content);
	memset(&st, 0x5a, sizeof(st));
	before = st;
	if (procfs_read_stat(root, pid, &st) != want)
		fail_msg("stat \"%s\" should give %d", content, want);
	assert_memory_equal(&st, &before, sizeof(st)); /* untouched on failure */
}

static void test_stat_garbage(void **state)
{
	struct fake *f = *state;
	struct proc_stat st;

	assert_stat_rejected(f->root, 200, "", -EINVAL);
	assert_stat_rejected(f->root, 200, "hello world\n", -EINVAL);
	assert_stat_rejected(f->root, 200, "200 (cut", -EINVAL);
	assert_stat_rejected(f->root, 200, "200 (x) S 1 1 1\n", -EINVAL); /* truncated */
	assert_stat_rejected(f->root, 200, "200 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\n",
			     -EINVAL); /* stops right before starttime */
	assert_stat_rejected(f->root, 200, "200 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 \n",
			     -EINVAL);
	assert_stat_rejected(f->root, 200, "200 (x) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL); /* ppid not a number */
	assert_stat_rejected(f->root, 200, "200 (x) S -3 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL);
	assert_stat_rejected(f->root, 200, "200 (x) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL);
	assert_stat_rejected(f->root, 200, "200 (x)  S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL); /* two spaces: fields would shift */
	assert_stat_rejected(f->root, 200,
			     "200 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
			     "99999999999999999999999 0\n",
			     -EINVAL); /* starttime overflows */
	assert_stat_rejected(f->root, 200, "999 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL); /* someone else's stat */
	assert_stat_rejected(f->root, 200, "(x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL);
	assert_stat_rejected(f->root, 200, "200 x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n",
			     -EINVAL);
	/* the same line with a good pid parses: the rejections above are about their flaws */
	put_text(f->root, "200/stat", "200 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n");
	assert_int_equal(procfs_read_stat(f->root, 200, &st), 0);
	assert_true(st.start_ticks == 5);

	assert_int_equal(procfs_read_stat(f->root, 404, &st), -ENOENT);
	assert_int_equal(procfs_read_stat(f->root, 0, &st), -EINVAL);
	assert_int_equal(procfs_read_stat(f->root, -1, &st), -EINVAL);
	assert_int_equal(procfs_read_stat(f->root, 200, NULL), -EINVAL);
}

static void test_stat_real_self(void **state)
{
	char comm[32] = "";
	struct proc_stat st;
	FILE *f = fopen("/proc/self/comm", "r");

	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';

	assert_int_equal(procfs_read_stat(NULL, getpid(), &st), 0);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.state, 'R');
	assert_true(st.start_ticks > 0);
	/* the same comm as /proc/PID/comm shows (which has no parentheses to get wrong) */
	assert_string_equal(st.comm, comm);
}

static void assert_cmdline(const char *root, const char *bytes, size_t n, size_t len,
			   const char *want)
{
	char buf[256];

	assert_true(len <= sizeof(buf));
	put_bytes(root, "300/cmdline", bytes, n);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(procfs_read_cmdline(root, 300, buf, len), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_cmdline(void **state)
{
	struct fake *f = *state;
	char buf[16];

#define CMD(s) s, sizeof(s) - 1
	assert_cmdline(f->root, CMD("python3\0-c\0print(1)\0"), 256, "python3 -c print(1)");
	assert_cmdline(f->root, CMD("python3\0demo.py"), 256, "python3 demo.py");
	assert_cmdline(f->root, CMD("a\0\0\0"), 256, "a");
	assert_cmdline(f->root, CMD(""), 256, ""); /* kernel thread */
	assert_cmdline(f->root, CMD("\0\0"), 256, "");
	assert_cmdline(f->root, CMD("nginx: worker process"), 256, "nginx: worker process");
	assert_cmdline(f->root, CMD("\xff\xfe\n\t"), 256, "\xff\xfe\n\t"); /* bytes kept as is */
	/* cut safely: len - 1 bytes at most, then trimmed */
	assert_cmdline(f->root, CMD("python3\0-c\0print(1)\0"), 8, "python3");
	assert_cmdline(f->root, CMD("python3\0-c\0print(1)\0"), 9, "python3");
	assert_cmdline(f->root, CMD("python3\0-c\0print(1)\0"), 10, "python3 -");
	assert_cmdline(f->root, CMD("python3\0-c\0print(1)\0"), 1, "");
#undef CMD

	assert_int_equal(procfs_read_cmdline(f->root, 300, buf, 0), -EINVAL);
	assert_int_equal(procfs_read_cmdline(f->root, 300, NULL, 16), -EINVAL);
	assert_int_equal(procfs_read_cmdline(f->root, 404, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "");
}

static void test_cmdline_long(void **state)
{
	struct fake *f = *state;
	char *big = malloc(1 << 20), *buf = malloc(4096);

	assert_non_null(big);
	assert_non_null(buf);
	memset(big, 'a', 1 << 20);
	put_bytes(f->root, "301/cmdline", big, 1 << 20);
	assert_int_equal(procfs_read_cmdline(f->root, 301, buf, 4096), 4095);
	assert_int_equal(strlen(buf), 4095);
	free(big);
	free(buf);
}

static void test_cmdline_real_self(void **state)
{
	char buf[4096];
	int n = procfs_read_cmdline(NULL, getpid(), buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(n, strlen(buf));
	/* argv[0] first; no arguments follow, so nothing else */
	assert_string_equal(buf, program_invocation_name);
}

static void test_exe(void **state)
{
	struct fake *f = *state;
	char path[PATH_MAX], buf[64];

	make_parents(f->root, "400/exe");
	snprintf(path, sizeof(path), "%s/400/exe", f->root);
	assert_int_equal(symlink("/usr/bin/python3.11", path), 0);
	assert_int_equal(procfs_read_exe(f->root, 400, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "/usr/bin/python3.11");
	/* exactly enough room, then one byte short */
	assert_int_equal(procfs_read_exe(f->root, 400, buf, 20), 19);
	assert_string_equal(buf, "/usr/bin/python3.11");
	assert_int_equal(procfs_read_exe(f->root, 400, buf, 19), -ENAMETOOLONG);
	assert_string_equal(buf, "");

	make_parents(f->root, "401/exe");
	snprintf(path, sizeof(path), "%s/401/exe", f->root);
	assert_int_equal(symlink("/tmp/my venv/bin/python (deleted)", path), 0);
	assert_int_equal(procfs_read_exe(f->root, 401, buf, sizeof(buf)), 33);
	assert_string_equal(buf, "/tmp/my venv/bin/python (deleted)");

	assert_int_equal(procfs_read_exe(f->root, 404, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(procfs_read_exe(f->root, 400, buf, 0), -EINVAL);
}

static void test_exe_real_self(void **state)
{
	char buf[PATH_MAX], want[PATH_MAX];
	int n = procfs_read_exe(NULL, getpid(), buf, sizeof(buf));
	ssize_t w = readlink("/proc/self/exe", want, sizeof(want) - 1);

	assert_true(w > 0);
	want[w] = '\0';
	assert_int_equal(n, w);
	assert_string_equal(buf, want);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Sorted descendants of pid, as a string like "101 102 200" for one readable comparison. */
static void descendants_text(const char *root, int pid, char *out, size_t len)
{
	int *pids = NULL;
	int n = procfs_descendants(root, pid, &pids);
	size_t used = 0;

	assert_true(n >= 0);
	if (n == 0)
		assert_null(pids);
	if (n)
		qsort(pids, n, sizeof(*pids), cmp_int);
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		used += snprintf(out + used, len - used, "%s%d", i ? " " : "", pids[i]);
	free(pids);
}

static void test_descendants(void **state)
{
	struct fake *f = *state;
	char text[256];

	put_stat(f->root, 1, "init", 'S', 0, 1);
	put_stat(f->root, 100, "python3", 'S', 1, 10); /* the root */
	put_stat(f->root, 101, "python3", 'S', 100, 11);
	put_stat(f->root, 102, "python3", 'S', 100, 12);
	put_stat(f->root, 200, "python3", 'S', 101, 13); /* grandchild */
	put_stat(f->root, 300, "sh", 'S', 200, 14);	 /* great-grandchild */
	put_stat(f->root, 500, "sshd", 'S', 1, 15);	 /* unrelated */
	put_stat(f->root, 501, "bash", 'S', 500, 16);
	/* a thread of 100: it lives under task/ and must not count */
	put_stat_at(f->root, "100/task/150/stat", 150, "python3", 'S', 100, 17);
	put_text(f->root, "600/stat", "garbage"); /* skipped, not fatal */
	put_text(f->root, "sys/stat", "1 (x) S 100 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n");
	put_text(f->root, "12abc/stat", "12 (x) S 100 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n");
	put_text(f->root, "self", "not a directory");

	descendants_text(f->root, 100, text, sizeof(text));
	assert_string_equal(text, "101 102 200 300");
	descendants_text(f->root, 101, text, sizeof(text));
	assert_string_equal(text, "200 300");
	descendants_text(f->root, 300, text, sizeof(text));
	assert_string_equal(text, "");
	descendants_text(f->root, 1, text, sizeof(text));
	assert_string_equal(text, "100 101 102 200 300 500 501");
	descendants_text(f->root, 4242, text, sizeof(text)); /* no such process */
	assert_string_equal(text, "");
}

static void test_descendants_breadth_first(void **state)
{
	struct fake *f = *state;
	int *pids;

	/* pids in reverse order of depth: children must still come before grandchildren */
	put_stat(f->root, 90, "root", 'S', 1, 1);
	put_stat(f->root, 80, "child", 'S', 90, 1);
	put_stat(f->root, 70, "grandchild", 'S', 80, 1);
	put_stat(f->root, 60, "great", 'S', 70, 1);
	assert_int_equal(procfs_descendants(f->root, 90, &pids), 3);
	assert_int_equal(pids[0], 80);
	assert_int_equal(pids[1], 70);
	assert_int_equal(pids[2], 60);
	free(pids);
}

static void test_descendants_cycle(void **state)
{
	struct fake *f = *state;
	char text[64];

	/* impossible on a real system, but a bogus tree must not loop forever */
	put_stat(f->root, 700, "a", 'S', 701, 1);
	put_stat(f->root, 701, "b", 'S', 700, 1);
	put_stat(f->root, 702, "c", 'S', 702, 1);
	descendants_text(f->root, 700, text, sizeof(text));
	assert_string_equal(text, "701");
	descendants_text(f->root, 702, text, sizeof(text));
	assert_string_equal(text, "");
}

static void test_descendants_errors(void **state)
{
	struct fake *f = *state;
	char missing[PATH_MAX];
	int *pids = (int *)1;

	snprintf(missing, sizeof(missing), "%s/nonexistent", f->root);
	assert_int_equal(procfs_descendants(missing, 1, &pids), -ENOENT);
	assert_null(pids);
	assert_int_equal(procfs_descendants(f->root, 1, NULL), -EINVAL);
	/* an empty /proc: no processes at all */
	assert_int_equal(procfs_descendants(f->root, 1, &pids), 0);
	assert_null(pids);
}

static void *park(void *arg)
{
	int *tid = arg;

	__atomic_store_n(tid, (int)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	pause();
	return NULL;
}

static bool contains(const int *pids, int n, int pid)
{
	for (int i = 0; i < n; i++) {
		if (pids[i] == pid)
			return true;
	}
	return false;
}

/* On the real /proc: a child and a grandchild are found; a thread is not. */
static void test_descendants_real(void **state)
{
	int pipefd[2], grandchild = 0, tid = 0, n, status;
	pthread_t thread;
	int *pids;
	pid_t child;

	assert_int_equal(pthread_create(&thread, NULL, park, &tid), 0);
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			pause();
			_exit(0);
		}
		if (write(pipefd[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pipefd[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	close(pipefd[0]);
	close(pipefd[1]);

	n = procfs_descendants(NULL, getpid(), &pids);
	assert_int_equal(n, 2);
	assert_true(contains(pids, n, child));
	assert_true(contains(pids, n, grandchild));
	free(pids);

	/* the thread shows as /proc/TID only by its path, never in the listing */
	assert_int_equal(procfs_pid_exists(NULL, tid), 1);
	n = procfs_descendants(NULL, getppid(), &pids);
	assert_true(n >= 1);
	assert_true(contains(pids, n, getpid()));
	assert_false(contains(pids, n, tid));
	free(pids);

	kill(grandchild, SIGKILL);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
	pthread_cancel(thread);
	pthread_join(thread, NULL);
}

struct map_case {
	const char *line;
	unsigned long start, end, offset;
	unsigned long long inode;
	unsigned int major, minor;
	const char *perms, *path;
};

static void test_maps_lines(void **state)
{
	static const struct map_case cases[] = {
	    {"55949a2c8000-55949a2ca000 r--p 00000000 fe:00 247134                     "
	     "/usr/bin/cat\n",
	     0x55949a2c8000, 0x55949a2ca000, 0, 247134, 0xfe, 0, "r--p", "/usr/bin/cat"},
	    {"5594a2b1c000-5594a2b3d000 rw-p 00000000 00:00 0                          [heap]\n",
	     0x5594a2b1c000, 0x5594a2b3d000, 0, 0, 0, 0, "rw-p", "[heap]"},
	    {"7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n", /* anonymous, kernel's own */
	     0x7f1c2a000000, 0x7f1c2a021000, 0, 0, 0, 0, "rw-p", ""},
	    {"7f1c2a000000-7f1c2a021000 ---p 00000000 00:00 0\n", 0x7f1c2a000000, 0x7f1c2a021000, 0,
	     0, 0, 0, "---p", ""},
	    {"7f1c2a000000-7f1c2a021000 rw-s 00000000 00:01 1035                       "
	     "/memfd:py heap (deleted)",
	     0x7f1c2a000000, 0x7f1c2a021000, 0, 1035, 0, 1, "rw-s", "/memfd:py heap (deleted)"},
	    {"7f00aa01b000-7f00aa1ae000 r-xp 0001b000 103:02 4068233                   "
	     "/home/me/my venv/lib/libpython3.11.so.1.0\n",
	     0x7f00aa01b000, 0x7f00aa1ae000, 0x1b000, 4068233, 0x103, 2, "r-xp",
	     "/home/me/my venv/lib/libpython3.11.so.1.0"},
	    {"08048000-08049000 r-xp 00000000 03:00 8312       /opt/test  \n", 0x08048000,
	     0x08049000, 0, 8312, 3, 0, "r-xp", "/opt/test  "},
	    {"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  "
	     "[vsyscall]\n",
	     0xffffffffff600000UL, 0xffffffffff601000UL, 0, 0, 0, 0, "--xp", "[vsyscall]"},
	    {"7ffd1c9e0000-7ffd1ca01000 rw-p 00000000 00:00 0                          "
	     "[stack]\n",
	     0x7ffd1c9e0000, 0x7ffd1ca01000, 0, 0, 0, 0, "rw-p", "[stack]"},
	    {"1000-1000 r--p ffffffff fd:01 18446744073709551615 /x", 0x1000, 0x1000, 0xffffffff,
	     18446744073709551615ULL, 0xfd, 1, "r--p", "/x"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct map_case *c = &cases[i];
		struct map_entry e;

		memset(&e, 0x5a, sizeof(e));
		if (procfs_parse_maps_line(c->line, &e))
			fail_msg("did not parse: %s", c->line);
		assert_true(e.start == c->start);
		assert_true(e.end == c->end);
		assert_true(e.offset == c->offset);
		assert_true(e.inode == c->inode);
		assert_int_equal(e.dev_major, c->major);
		assert_int_equal(e.dev_minor, c->minor);
		assert_string_equal(e.perms, c->perms);
		assert_string_equal(e.path, c->path);
	}
}

static void test_maps_bad_lines(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "garbage",
	    "1000-2000 rw-p",
	    "1000-2000 rw-p 0 00:00",
	    "1000-2000 rwp 0 00:00 0",
	    "1000-2000 rwzp 0 00:00 0",
	    "1000-2000 rw-pp 0 00:00 0",
	    "2000-1000 rw-p 0 00:00 0", /* start after end */
	    "zz-2000 rw-p 0 00:00 0",
	    "1000 2000 rw-p 0 00:00 0",
	    "-2000 rw-p 0 00:00 0",
	    "1000-2000 rw-p 0 00-00 0",
	    "1000-2000 rw-p 0 00:00 abc",
	    "1000-2000 rw-p 0 00:00 0x",
	    "1000-2000 rw-p 0 00:00 12x /path",
	    "1000-2000 rw-p 0 00:00 99999999999999999999999",
	    "1000-2000 rw-p 0 100000000:00 0",
	    "1000-2000  rw-p 0 00:00 0",
	    "10000000000000000-20000000000000000 rw-p 0 00:00 0", /* wider than 64 bits */
	    "1000-2000 rw-p 0 00:00 0 /a\n/b\n",		  /* two lines */
	};
	struct map_entry e;
	char *longline;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (procfs_parse_maps_line(bad[i], &e) != -EINVAL)
			fail_msg("should be rejected: \"%s\"", bad[i]);
	}
	assert_int_equal(procfs_parse_maps_line(NULL, &e), -EINVAL);
	assert_int_equal(procfs_parse_maps_line("1000-2000 rw-p 0 00:00 0", NULL), -EINVAL);

	/* a path that cannot fit, and one that just fits */
	longline = malloc(8192);
	assert_non_null(longline);
	n = (size_t)sprintf(longline, "1000-2000 r--p 0 08:01 5 /");
	memset(longline + n, 'p', sizeof(e.path) - 1);
	longline[n + sizeof(e.path) - 1] = '\0';
	assert_int_equal(procfs_parse_maps_line(longline, &e), -EINVAL);
	longline[n + sizeof(e.path) - 2] = '\0';
	assert_int_equal(procfs_parse_maps_line(longline, &e), 0);
	assert_int_equal(strlen(e.path), sizeof(e.path) - 1);
	free(longline);
}

struct collect {
	int calls;
	int stop_at; /* return 42 on this call (1-based), 0: never */
	unsigned long starts[8];
	char paths[8][64];
};

static int collect_map(const struct map_entry *e, void *ctx)
{
	struct collect *c = ctx;

	if (c->calls < 8) {
		c->starts[c->calls] = e->start;
		snprintf(c->paths[c->calls], sizeof(c->paths[0]), "%.63s", e->path);
	}
	c->calls++;
	return c->calls == c->stop_at ? 42 : 0;
}

static void test_for_each_map(void **state)
{
	struct fake *f = *state;
	struct collect c = {0};

	put_text(f->root, "800/maps",
		 "1000-2000 r--p 00000000 08:01 5                          /usr/bin/python3.11\n"
		 "3000-4000 rw-p 00000000 00:00 0                          [heap]\n"
		 "5000-6000 rw-p 00000000 00:00 0 \n"
		 "7000-8000 r-xp 00000000 08:01 6                          /lib/x (deleted)");
	assert_int_equal(procfs_for_each_map(f->root, 800, collect_map, &c), 0);
	assert_int_equal(c.calls, 4);
	assert_true(c.starts[0] == 0x1000 && c.starts[3] == 0x7000);
	assert_string_equal(c.paths[0], "/usr/bin/python3.11");
	assert_string_equal(c.paths[1], "[heap]");
	assert_string_equal(c.paths[2], "");
	assert_string_equal(c.paths[3], "/lib/x (deleted)");

	/* early stop returns the callback's value */
	c = (struct collect){.stop_at = 2};
	assert_int_equal(procfs_for_each_map(f->root, 800, collect_map, &c), 42);
	assert_int_equal(c.calls, 2);

	/* a bad line stops the walk */
	put_text(f->root, "801/maps",
		 "1000-2000 r--p 00000000 08:01 5 /a\n"
		 "not a maps line\n"
		 "3000-4000 r--p 00000000 08:01 5 /b\n");
	c = (struct collect){0};
	assert_int_equal(procfs_for_each_map(f->root, 801, collect_map, &c), -EINVAL);
	assert_int_equal(c.calls, 1);

	/* an empty maps (kernel thread) */
	put_text(f->root, "802/maps", "");
	c = (struct collect){0};
	assert_int_equal(procfs_for_each_map(f->root, 802, collect_map, &c), 0);
	assert_int_equal(c.calls, 0);

	assert_int_equal(procfs_for_each_map(f->root, 404, collect_map, &c), -ENOENT);
	assert_int_equal(procfs_for_each_map(f->root, 800, NULL, &c), -EINVAL);
}

static void test_for_each_map_overlong_line(void **state)
{
	struct fake *f = *state;
	struct collect c = {0};
	char *big = malloc(20000);
	int n;

	assert_non_null(big);
	n = sprintf(big, "1000-2000 r--p 00000000 08:01 5 /");
	memset(big + n, 'p', 20000 - n - 1);
	big[19999] = '\n';
	put_bytes(f->root, "803/maps", big, 20000);
	free(big);
	assert_int_equal(procfs_for_each_map(f->root, 803, collect_map, &c), -EINVAL);
	assert_int_equal(c.calls, 0);
}

static int find_stack(const struct map_entry *e, void *ctx)
{
	return !strcmp(e->path, "[stack]") && (e->perms[0] == 'r') ? 1 : 0;
}

static void test_for_each_map_real_self(void **state)
{
	assert_int_equal(procfs_for_each_map(NULL, getpid(), find_stack, NULL), 1);
}

static int first_file_map(const struct map_entry *e, void *arg)
{
	if (e->path[0] != '/' || !e->inode)
		return 0;
	*(struct map_entry *)arg = *e;
	return 1;
}

/* The file a mapping of this process maps, reached whether or not map_files is allowed, and
 * refused when /proc/PID/maps says another inode (a file replaced since) or no file at all. */
static void test_open_mapped_real_self(void **state)
{
	struct map_entry e, other;
	struct stat st;
	int fd;

	assert_int_equal(procfs_for_each_map(NULL, getpid(), first_file_map, &e), 1);
	fd = procfs_open_mapped(getpid(), &e);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_ino == e.inode);
	close(fd);
	other = e;
	other.inode = e.inode + 1;
	assert_int_equal(procfs_open_mapped(getpid(), &other), -ESTALE);
	other = e;
	strcpy(other.path, "[heap]");
	assert_int_equal(procfs_open_mapped(getpid(), &other), -EINVAL);
	assert_true(procfs_open_mapped(PROCFS_PID_MAX, &e) < 0);
}

/* The same file opened for reading: its first bytes are the ELF magic; the checks of
 * procfs_open_mapped() hold (another inode, no file, no process). */
static void test_read_mapped_real_self(void **state)
{
	struct map_entry e, other;
	char magic[4];
	int fd;

	assert_int_equal(procfs_for_each_map(NULL, getpid(), first_file_map, &e), 1);
	fd = procfs_read_mapped(getpid(), &e);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, magic, sizeof(magic), 0), sizeof(magic));
	assert_memory_equal(magic, "\177ELF", 4);
	close(fd);
	other = e;
	other.inode = e.inode + 1;
	assert_int_equal(procfs_read_mapped(getpid(), &other), -ESTALE);
	other = e;
	strcpy(other.path, "[heap]");
	assert_int_equal(procfs_read_mapped(getpid(), &other), -EINVAL);
	assert_true(procfs_read_mapped(PROCFS_PID_MAX, &e) < 0);
}

struct map_at {
	unsigned long addr;
	struct map_entry e;
};

static int map_at(const struct map_entry *e, void *arg)
{
	struct map_at *m = arg;

	if (e->start != m->addr)
		return 0;
	m->e = *e;
	return 1;
}

/* A file past PROCFS_ELF_READ_MAX (sparse: no disk used) is not opened for reading. */
static void test_read_mapped_too_large(void **state)
{
	char path[] = "/tmp/cowtrace-test-huge.XXXXXX";
	struct map_at m = { 0 };
	int fd = mkstemp(path), rfd;
	void *p;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)PROCFS_ELF_READ_MAX + 4096), 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(p != MAP_FAILED);
	m.addr = (unsigned long)p;
	assert_int_equal(procfs_for_each_map(NULL, getpid(), map_at, &m), 1);
	assert_int_equal(procfs_read_mapped(getpid(), &m.e), -EFBIG);
	/* at the limit exactly: read */
	assert_int_equal(ftruncate(fd, (off_t)PROCFS_ELF_READ_MAX), 0);
	rfd = procfs_read_mapped(getpid(), &m.e);
	assert_true(rfd >= 0);
	close(rfd);
	munmap(p, 4096);
	close(fd);
	unlink(path);
}

static void test_pid_exists(void **state)
{
	struct fake *f = *state;

	put_stat(f->root, 900, "x", 'S', 1, 1);
	put_text(f->root, "901", "a file, not a process");
	assert_int_equal(procfs_pid_exists(f->root, 900), 1);
	assert_int_equal(procfs_pid_exists(f->root, 901), 0);
	assert_int_equal(procfs_pid_exists(f->root, 902), 0);
	assert_int_equal(procfs_pid_exists(f->root, 0), -EINVAL);
	assert_int_equal(procfs_pid_exists(NULL, getpid()), 1);
	assert_int_equal(procfs_pid_exists(NULL, PROCFS_PID_MAX), 0);
}

static void test_parse_pid(void **state)
{
	static const char *const bad[] = {
	    "",	   "0",	      "00",	     "-1",
	    "+5",  " 5",      "5 ",	     "5\n",
	    "12a", "a12",     "0x10",	     "1e3",
	    "1.0", "4194305", "99999999999", "99999999999999999999999999",
	    "٣",
	};
	int pid;

	assert_int_equal(procfs_parse_pid("1", &pid), 0);
	assert_int_equal(pid, 1);
	assert_int_equal(procfs_parse_pid("1234", &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(procfs_parse_pid("007", &pid), 0);
	assert_int_equal(pid, 7);
	assert_int_equal(procfs_parse_pid("4194304", &pid), 0);
	assert_int_equal(pid, 4194304);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid = -42;
		if (procfs_parse_pid(bad[i], &pid) != -EINVAL)
			fail_msg("\"%s\" should be rejected", bad[i]);
		assert_int_equal(pid, -42); /* untouched */
	}
	assert_int_equal(procfs_parse_pid(NULL, &pid), -EINVAL);
	assert_int_equal(procfs_parse_pid("5", NULL), -EINVAL);
}

static void test_ns_pid(void **state)
{
	struct fake *f = *state;

	put_text(f->root, "10/status", "Name:\tpython3\nTgid:\t10\nNSpid:\t10\nPPid:\t1\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 10), 10);
	/* two namespaces below ours: the innermost wins */
	put_text(f->root, "11/status", "Tgid:\t11\nNSpid:\t4242\t7\t1\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 11), 1);
	put_text(f->root, "12/status", "Tgid:\t12\nNSpid:\t4242  9 \nX:\t3\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 12), 9);
	/* no NSpid line (before Linux 4.1), garbage, zero, too large */
	put_text(f->root, "13/status", "Tgid:\t13\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 13), -ENOENT);
	put_text(f->root, "14/status", "NSpid:\t14\t-3\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 14), -EINVAL);
	put_text(f->root, "15/status", "NSpid:\t15\t0\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 15), -EINVAL);
	put_text(f->root, "16/status", "NSpid:\t16\t99999999999999999999\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 16), -EINVAL);
	put_text(f->root, "17/status", "NSpid:\t\n");
	assert_int_equal(procfs_read_ns_pid(f->root, 17), -EINVAL);
	assert_int_equal(procfs_read_ns_pid(f->root, 404), -ENOENT);
}

static void test_ns_pid_real_self(void **state)
{
	(void)state;
	/* the tests do not run in a pid namespace of their own */
	assert_int_equal(procfs_read_ns_pid("/proc", getpid()), getpid());
}

static void test_cgroup(void **state)
{
	struct fake *f = *state;
	char buf[32];

	put_text(f->root, "20/cgroup", "0::/system.slice/web.service\n");
	assert_int_equal(procfs_read_cgroup(f->root, 20, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/system.slice/web.service");
	/* v1 lines before the unified one */
	put_text(f->root, "21/cgroup", "12:pids:/x\n1:name=systemd:/y\n0::/kubepods/pod1/c2\n");
	assert_int_equal(procfs_read_cgroup(f->root, 21, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/kubepods/pod1/c2");
	put_text(f->root, "22/cgroup", "0::/\n");
	assert_int_equal(procfs_read_cgroup(f->root, 22, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/");
	/* v1 only; too long for buf; not a path */
	put_text(f->root, "23/cgroup", "12:pids:/x\n");
	assert_int_equal(procfs_read_cgroup(f->root, 23, buf, sizeof(buf)), -ENOENT);
	put_text(f->root, "24/cgroup", "0::/a/very/long/path/that/does/not/fit/in/buf\n");
	assert_int_equal(procfs_read_cgroup(f->root, 24, buf, sizeof(buf)), -EINVAL);
	put_text(f->root, "25/cgroup", "0::\n");
	assert_int_equal(procfs_read_cgroup(f->root, 25, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(procfs_read_cgroup(f->root, 20, buf, 0), -EINVAL);
	assert_int_equal(procfs_read_cgroup(f->root, 404, buf, sizeof(buf)), -ENOENT);
}

static void test_smaps_rollup(void **state)
{
	struct fake *f = *state;
	struct proc_mem m;

	put_text(f->root, "30/smaps_rollup",
		 "00400000-7ffd1c5fe000 ---p 00000000 00:00 0                          [rollup]\n"
		 "Rss:               79608 kB\n"
		 "Pss:               77620 kB\n"
		 "Pss_Dirty:         75000 kB\n"
		 "Pss_Anon:          70000 kB\n"
		 "Shared_Clean:       2100 kB\n"
		 "Shared_Dirty:        300 kB\n"
		 "Private_Clean:      1208 kB\n"
		 "Private_Dirty:     76000 kB\n"
		 "Referenced:        79608 kB\n");
	assert_int_equal(procfs_read_smaps_rollup(f->root, 30, &m), 0);
	assert_int_equal(m.rss_kb, 79608);
	assert_int_equal(m.pss_kb, 77620);
	assert_int_equal(m.shared_kb, 2400);
	assert_int_equal(m.uss_kb, 77208);
	/* a field missing, not a number, another unit */
	put_text(f->root, "31/smaps_rollup", "Rss: 1 kB\nPss: 1 kB\n");
	assert_int_equal(procfs_read_smaps_rollup(f->root, 31, &m), -EINVAL);
	put_text(f->root, "32/smaps_rollup", "Rss: x kB\nPss: 1 kB\nShared_Clean: 0 kB\n"
		 "Shared_Dirty: 0 kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: 0 kB\n");
	assert_int_equal(procfs_read_smaps_rollup(f->root, 32, &m), -EINVAL);
	put_text(f->root, "33/smaps_rollup", "Rss: 1 MB\nPss: 1 kB\nShared_Clean: 0 kB\n"
		 "Shared_Dirty: 0 kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: 0 kB\n");
	assert_int_equal(procfs_read_smaps_rollup(f->root, 33, &m), -EINVAL);
	assert_int_equal(procfs_read_smaps_rollup(f->root, 404, &m), -ENOENT);
	/* this process's own: sane relations */
	assert_int_equal(procfs_read_smaps_rollup("/proc", getpid(), &m), 0);
	assert_true(m.rss_kb > 0 && m.pss_kb <= m.rss_kb && m.uss_kb <= m.pss_kb);
	assert_int_equal(m.uss_kb + m.shared_kb, m.rss_kb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stat_plain, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_hostile_comm, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_huge_file_is_bounded, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_garbage, fake_setup, fake_teardown),
	    cmocka_unit_test(test_stat_real_self),
	    cmocka_unit_test_setup_teardown(test_cmdline, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_cmdline_long, fake_setup, fake_teardown),
	    cmocka_unit_test(test_cmdline_real_self),
	    cmocka_unit_test_setup_teardown(test_exe, fake_setup, fake_teardown),
	    cmocka_unit_test(test_exe_real_self),
	    cmocka_unit_test_setup_teardown(test_descendants, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_descendants_breadth_first, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_descendants_cycle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_descendants_errors, fake_setup, fake_teardown),
	    cmocka_unit_test(test_descendants_real),
	    cmocka_unit_test(test_maps_lines),
	    cmocka_unit_test(test_maps_bad_lines),
	    cmocka_unit_test_setup_teardown(test_for_each_map, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_for_each_map_overlong_line, fake_setup,
					    fake_teardown),
	    cmocka_unit_test(test_for_each_map_real_self),
	    cmocka_unit_test(test_open_mapped_real_self),
	    cmocka_unit_test(test_read_mapped_real_self),
	    cmocka_unit_test(test_read_mapped_too_large),
	    cmocka_unit_test_setup_teardown(test_pid_exists, fake_setup, fake_teardown),
	    cmocka_unit_test(test_parse_pid),
	    cmocka_unit_test_setup_teardown(test_ns_pid, fake_setup, fake_teardown),
	    cmocka_unit_test(test_ns_pid_real_self),
	    cmocka_unit_test_setup_teardown(test_cgroup, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_smaps_rollup, fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
