// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cow_bench: the cost of one copy-on-write break.
 *
 *   cow_bench [-m MiB] [-r REPEAT] [-w]
 *
 * The parent maps MiB (default 256) of private anonymous memory and writes every page, then, REPEAT
 * times (default 1): forks; the child writes one byte to every page, timing the loop with
 * CLOCK_MONOTONIC, prints "ns_per_copy=<float> pages=<n>" and exits. Every write in the loop is a
 * copy-on-write fault that copies one page, so the time per page is the time per copy (page fault,
 * allocation, 4 KiB copy and whatever a tracer adds to those paths).
 * The parent never writes the buffer after the first fork: once a child has exited, its pages are
 * exclusive again without a copy, and the next child copies all of them again.
 *
 *   -w  wait for one byte on stdin before the first fork (lets a tracer attach with -p first).
 *
 * Transparent huge pages are disabled on the buffer: a write to a shared huge page splits it first,
 * which would add a split to every 512th copy and make the figure depend on THP settings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "cow_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: cow_bench [-m MiB] [-r REPEAT] [-w]\n");
	exit(2);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void __attribute__((noreturn)) measure(volatile unsigned char *buf, long pages, long psz)
{
	double t0, t1;

	t0 = now_ns();
	for (long i = 0; i < pages; i++)
		buf[i * psz] = 2;
	t1 = now_ns();
	/* Formatting and stdio come after the timed loop: their own copies are not measured. */
	printf("ns_per_copy=%.1f pages=%ld\n", (t1 - t0) / pages, pages);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	long mib = 256, repeat = 1, psz, pages;
	int opt, wait_stdin = 0;
	unsigned char *buf;
	char *end;

	while ((opt = getopt(argc, argv, "m:r:w")) != -1) {
		switch (opt) {
		case 'm':
			mib = strtol(optarg, &end, 10);
			if (*end || mib <= 0)
				usage();
			break;
		case 'r':
			repeat = strtol(optarg, &end, 10);
			if (*end || repeat <= 0)
				usage();
			break;
		case 'w':
			wait_stdin = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	psz = sysconf(_SC_PAGESIZE);
	pages = mib * 1024 * 1024 / psz;
	buf = mmap(NULL, pages * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	madvise(buf, pages * psz, MADV_NOHUGEPAGE);
	for (long i = 0; i < pages; i++)
		buf[i * psz] = 1;

	if (wait_stdin) {
		char c;

		if (read(STDIN_FILENO, &c, 1) != 1)
			die("read stdin");
	}
	/* Nothing buffered may be inherited: each child's line must be printed once. */
	fflush(stdout);

	for (long r = 0; r < repeat; r++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0)
			measure(buf, pages, psz);
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			return 1;
	}
	return 0;
}
