// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cow_writer: make an exactly known number of copy-on-write page copies in a child process.
 *
 *   cow_writer [-n PAGES] [-k anon|file|zero|kread|gup] [-t] [-s SECONDS] [-e] [-w] [-W] [-o FILE] [-l SECONDS]
 *
 * The parent maps PAGES + 1 pages (the extra page is never written by the child, so a test can
 * check that nothing outside the written range is reported), prepares them, starts the child and
 * exits with the child's status (128 + signal if it was killed). The child prints
 *
 *   cow_writer pid=<child pid> tid=<writer tid> base=0x<hex> pages=N offset=0x123 kind=<k>
 *      writer=0x<address of the store loop function>
 *
 * (one line) and then writes one byte at base + i * page_size + 0x123 for i = 0 .. N-1, in
 * ascending order: from one store instruction inside touch_pages() for anon, file and zero;
 * through the kernel for kread and gup (below).
 *
 *   anon  the parent writes every page (each becomes a real private page, not the zero page);
 *         the child's writes break copy-on-write: N anon copies.
 *   file  the parent fills a temporary file (unlinked at once) with N + 1 pages of data and maps
 *         it MAP_PRIVATE; the child reads every page (mapping the page-cache page read-only) and
 *         then writes: N file copies. The child does it, not the parent, so that pid, tid and
 *         process role are the same for every kind. The read first matters: a write to a
 *         not-yet-mapped private file page is a fresh fault (do_cow_fault), not a write to a
 *         present page. The file lives in $TMPDIR or /tmp.
 *   zero  the mapping is left untouched by the parent; the child reads every page (mapping the
 *         shared zero page) and then writes: N zero-page copies.
 *   kread prepared as anon; the child makes the kernel do the writes: for each page it puts one
 *         byte into a pipe of its own and read(2)s it back into the page at 0x123. The copy is
 *         made while the kernel copies to user memory: a fault in kernel mode
 *         (exceptions:page_fault_kernel, not page_fault_user), N anon copies.
 *   gup   prepared as anon; the child writes one byte into each page at 0x123 with
 *         process_vm_writev() on itself. The kernel pins the page for writing
 *         (get_user_pages) and breaks copy-on-write there, with no page fault at all: N anon
 *         copies that no fault tracepoint sees.
 *   kread and gup go through syscall() only (already resolved before clone(), see main()), and
 *   the source byte lives on the child's own stack, so -n 0 makes the same other copies.
 *
 *   -t  the child writes from a second thread; tid= is that thread's id.
 *   -s  the child sleeps SECONDS after printing its line and before touching the pages, so a
 *       tracer can attach to a child that already exists.
 *   -e  the child execs /bin/true after its writes.
 *   -w  the parent waits for one byte on stdin before starting the child, so a tracer can
 *       attach first and see the child being created.
 *   -W  the child waits for one byte on stdin after printing its line (like -s, without
 *       guessing how long a tracer needs to attach).
 *   -o  print the line to FILE instead of stdout: a tracer that passes its own stdout to the
 *       command (cowtrace --trace) could otherwise interleave its output with the line.
 *
 * Why the child runs on a fresh stack (clone() instead of fork()): after fork() parent and child
 * share the stack pages, and whichever writes one first takes the copy. The parent's wait and the
 * child's writes race for them, and how many stack pages the child touches also depends on the
 * random sub-page offset of the stack (ASLR). Either would make the child's number of "other"
 * copies vary between runs. On a stack the parent never touched, the child's own stack faults
 * are first-touch faults, not copies, and its remaining copies (libc data, TLS) are the same in
 * every run, so "copies with -n N" minus "copies with -n 0" is exactly N. (For the same
 * reason the parent calls no libc function for the first time after clone(); see main().)
 * Transparent huge pages are disabled on the mappings so that every copy is one 4 KiB page.
 *
 * Restartable sequences are off (cow_writer re-executes itself once with
 * GLIBC_TUNABLES=glibc.pthread.rseq=0): with rseq, the kernel writes the thread's rseq area,
 * in the TLS page parent and child share, whenever either comes back to user space after being
 * scheduled; whichever of the two the kernel writes first for takes that copy (a kernel-mode
 * fault), so the child's other copies would be 3 or 4 at random.
 */
#define _GNU_SOURCE /* clone() */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITE_OFFSET 0x123
#define CHILD_STACK  (256 * 1024)

enum kind { KIND_ANON, KIND_FILE, KIND_ZERO, KIND_KREAD, KIND_GUP };
static const char *const kind_names[] = { "anon", "file", "zero", "kread", "gup" };

static struct {
	long pages;
	enum kind kind;
	int thread;
	double sleep_s;
	double linger_s;
	int exec_true;
	int wait_stdin;
	int child_wait_stdin;
	int out_fd;
	long page_size;
	unsigned char *base;
} cfg = { .kind = KIND_ANON, .out_fd = STDOUT_FILENO };

static void die(const char *what)
{
	fprintf(stderr, "cow_writer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cow_writer [-n PAGES] [-k anon|file|zero|kread|gup] [-t] [-s SECONDS] [-e] [-w] [-W]"
		" [-o FILE] [-l SECONDS]\n");
	exit(2);
}

/* Read every page so it is mapped (page cache or zero page) before it is written. */
static void __attribute__((noinline)) read_pages(long n)
{
	volatile unsigned char *p = cfg.base;
	unsigned long sum = 0;

	for (long i = 0; i < n; i++)
		sum += p[i * cfg.page_size + WRITE_OFFSET];
	/* Keep the loads: an unused sum would let the compiler drop them despite volatile. */
	__asm__ volatile("" : : "r"(sum));
}

/*
 * The store that makes the copies. noinline so the test can check that every reported fault
 * address comes with a user IP inside this function (printed as writer=).
 */
static void __attribute__((noinline)) touch_pages(long n)
{
	volatile unsigned char *p = cfg.base;

	for (long i = 0; i < n; i++)
		p[i * cfg.page_size + WRITE_OFFSET] = 0x5a;
}

/*
 * kread: the kernel writes each page, copying one byte from a pipe into it (read(2)). Raw
 * syscall()s: no libc function resolved for the first time here, no errno written on success.
 */
static void __attribute__((noinline)) kernel_read_pages(long n)
{
	unsigned char byte = 0x5a;
	int fds[2];

	if (syscall(SYS_pipe2, fds, O_CLOEXEC))
		_exit(1);
	for (long i = 0; i < n; i++) {
		if (syscall(SYS_write, fds[1], &byte, 1) != 1 ||
		    syscall(SYS_read, fds[0], cfg.base + i * cfg.page_size + WRITE_OFFSET, 1) != 1)
			_exit(1);
	}
	syscall(SYS_close, fds[0]);
	syscall(SYS_close, fds[1]);
}

/*
 * gup: the kernel writes each page through get_user_pages (process_vm_writev() on ourselves):
 * copy-on-write is broken without a fault.
 */
static void __attribute__((noinline)) gup_write_pages(long n)
{
	unsigned char byte = 0x5a;
	long self = syscall(SYS_getpid);
	struct iovec local = { .iov_base = &byte, .iov_len = 1 };

	for (long i = 0; i < n; i++) {
		struct iovec remote = {
			.iov_base = cfg.base + i * cfg.page_size + WRITE_OFFSET, .iov_len = 1
		};

		if (syscall(SYS_process_vm_writev, self, &local, 1UL, &remote, 1UL, 0UL) != 1)
			_exit(1);
	}
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Everything the writing thread does, in the order the header comment promises. */
static void *writer(void *unused)
{
	char line[256];
	int len;

	len = snprintf(line, sizeof(line),
		       "cow_writer pid=%d tid=%d base=%p pages=%ld offset=%#x kind=%s writer=%p\n",
		       getpid(), (int)syscall(SYS_gettid), (void *)cfg.base, cfg.pages,
		       WRITE_OFFSET, kind_names[cfg.kind], (void *)touch_pages);
	/* write(2), not stdio: no buffer to allocate, and the line is out before the writes. */
	if (write(cfg.out_fd, line, len) != len)
		_exit(1);
	if (cfg.sleep_s > 0)
		sleep_s(cfg.sleep_s);
	if (cfg.child_wait_stdin) {
		char c;

		if (read(STDIN_FILENO, &c, 1) != 1)
			_exit(1);
	}
	switch (cfg.kind) {
	case KIND_KREAD:
		kernel_read_pages(cfg.pages);
		break;
	case KIND_GUP:
		gup_write_pages(cfg.pages);
		break;
	case KIND_FILE:
	case KIND_ZERO:
		read_pages(cfg.pages + 1);
		/* fall through */
	case KIND_ANON:
		touch_pages(cfg.pages);
		break;
	}
	return NULL;
}

static int child_main(void *unused)
{
	if (cfg.thread) {
		pthread_t t;

		if (pthread_create(&t, NULL, writer, NULL) || pthread_join(t, NULL))
			_exit(1);
	} else {
		writer(NULL);
	}
	if (cfg.exec_true) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	_exit(0);
}

static void map_region(void)
{
	size_t len = (cfg.pages + 1) * cfg.page_size;
	void *p;

	if (cfg.kind == KIND_FILE) {
		const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		char path[4096];
		unsigned char *buf;
		int fd;

		snprintf(path, sizeof(path), "%s/cow_writer.XXXXXX", dir);
		fd = mkstemp(path);
		if (fd < 0)
			die("mkstemp");
		unlink(path);
		/* Real data, no holes: a hole need not be mapped as a file page. */
		buf = malloc(cfg.page_size);
		if (!buf)
			die("malloc");
		memset(buf, 0xa5, cfg.page_size);
		for (long i = 0; i < cfg.pages + 1; i++)
			if (write(fd, buf, cfg.page_size) != cfg.page_size)
				die("write temp file");
		free(buf);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			die("mmap file");
		close(fd);
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		/* A huge (zero) page would be split on the first write: keep everything 4 KiB. */
		madvise(p, len, MADV_NOHUGEPAGE);
	}
	cfg.base = p;
	if (cfg.kind == KIND_ANON || cfg.kind == KIND_KREAD || cfg.kind == KIND_GUP)
		for (long i = 0; i < cfg.pages + 1; i++)
			cfg.base[i * cfg.page_size] = 1;
}

#define NO_RSEQ "glibc.pthread.rseq=0"

/* Run again with rseq off (see the header comment), unless it is already off. */
static void exec_without_rseq(char **argv)
{
	const char *old = getenv("GLIBC_TUNABLES");
	static char self[4096], tunables[4096];
	ssize_t len;

	if (old && strstr(old, NO_RSEQ))
		return;
	snprintf(tunables, sizeof(tunables), "%s%s" NO_RSEQ, old ? old : "", old ? ":" : "");
	/* the real path, not /proc/self/exe: comm stays cow_writer */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return;
	self[len] = 0;
	setenv("GLIBC_TUNABLES", tunables, 1);
	execv(self, argv);
	die("re-exec without rseq");
}

int main(int argc, char **argv)
{
	char *stack, *end;
	int opt, status;
	pid_t pid;

	exec_without_rseq(argv);

	while ((opt = getopt(argc, argv, "n:k:ts:ewWo:l:")) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			cfg.pages = strtol(optarg, &end, 10);
			if (errno || *end || cfg.pages < 0)
				usage();
			break;
		case 'k':
			if (!strcmp(optarg, "anon"))
				cfg.kind = KIND_ANON;
			else if (!strcmp(optarg, "file"))
				cfg.kind = KIND_FILE;
			else if (!strcmp(optarg, "zero"))
				cfg.kind = KIND_ZERO;
			else if (!strcmp(optarg, "kread"))
				cfg.kind = KIND_KREAD;
			else if (!strcmp(optarg, "gup"))
				cfg.kind = KIND_GUP;
			else
				usage();
			break;
		case 't':
			cfg.thread = 1;
			break;
		case 's':
			cfg.sleep_s = strtod(optarg, &end);
			if (*end || cfg.sleep_s < 0)
				usage();
			break;
		case 'e':
			cfg.exec_true = 1;
			break;
		case 'l':
			/* the parent lingers after the child: its mappings name the child's addresses */
			cfg.linger_s = strtod(optarg, &end);
			if (*end || cfg.linger_s < 0)
				usage();
			break;
		case 'w':
			cfg.wait_stdin = 1;
			break;
		case 'W':
			cfg.child_wait_stdin = 1;
			break;
		case 'o':
			cfg.out_fd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (cfg.out_fd < 0)
				die(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	cfg.page_size = sysconf(_SC_PAGESIZE);
	map_region();

	/* Untouched by the parent: the child's stack faults are first touches, never copies. */
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		die("mmap stack");

	if (cfg.wait_stdin) {
		char c;

		if (read(STDIN_FILENO, &c, 1) != 1)
			die("read stdin");
	}

	/*
	 * After clone() the parent must not write the pages the child writes, or whichever of the
	 * two writes first takes the copy. The first call of a libc function resolves its PLT slot
	 * (lazy binding), writing the executable's GOT and ld.so's data, which the child also
	 * writes when it resolves its own calls. So the parent waits through syscall(), called once
	 * here to resolve it, rather than waitpid(), which it would call for the first time.
	 */
	syscall(SYS_getpid);
	pid = clone(child_main, stack + CHILD_STACK, SIGCHLD, NULL);
	if (pid < 0)
		die("clone");
	while (syscall(SYS_wait4, pid, &status, 0, NULL) < 0)
		if (errno != EINTR)
			die("wait4");
	if (cfg.linger_s > 0)
		sleep_s(cfg.linger_s);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
