// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * first_read: what a read of a page costs in a child right after fork, the first time and the
 * second time. Fork leaves the child's page-table entries "old" (accessed bit clear), so the
 * first access to each page makes the hardware set that bit; the second finds it set. cowtrace
 * reads the written page at each copy-on-write fault, before the write (the capture), and that
 * read is such a first access: this is its price on the machine at hand, without any tracer
 * (make bench prints it next to the per-copy costs).
 *
 *   first_read [-m MiB] [-r REPEAT]
 *
 * Prints "first_read_ns=<float> second_read_ns=<float> pages=<n>" per round: the time per page of
 * a pass reading one byte of every page, then of a second pass reading another cache line of
 * every page (a TLB miss too, but the accessed bit is set).
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
	fprintf(stderr, "first_read: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* One byte of every page at offset off; the sum keeps the compiler from dropping the loads. */
static long read_pages(const volatile unsigned char *buf, size_t pages, size_t off)
{
	long sum = 0;
	size_t i;

	for (i = 0; i < pages; i++)
		sum += buf[i * 4096 + off];
	return sum;
}

int main(int argc, char **argv)
{
	size_t mib = 256, pages, i;
	int repeat = 1, opt, r;
	unsigned char *buf;

	while ((opt = getopt(argc, argv, "m:r:")) != -1) {
		switch (opt) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 'r': repeat = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: first_read [-m MiB] [-r REPEAT]\n");
			return 2;
		}
	}
	if (mib == 0 || mib > 65536 || repeat < 1) {
		fprintf(stderr, "first_read: -m must be 1..65536 and -r at least 1\n");
		return 2;
	}
	pages = mib << 8;
	buf = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	/* 4 KiB entries, as the copies cowtrace prices (see cow_bench.c) */
	if (madvise(buf, pages * 4096, MADV_NOHUGEPAGE))
		die("madvise");
	for (i = 0; i < pages; i++)
		buf[i * 4096] = 1;
	for (r = 0; r < repeat; r++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			double t0, t1, t2;
			long sum;

			t0 = now_ns();
			sum = read_pages(buf, pages, 0);
			t1 = now_ns();
			sum += read_pages(buf, pages, 64);
			t2 = now_ns();
			(void)sum;
			printf("first_read_ns=%.1f second_read_ns=%.1f pages=%zu\n", (t1 - t0) / pages,
			       (t2 - t1) / pages, pages);
			fflush(stdout);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			return 1;
	}
	return 0;
}
