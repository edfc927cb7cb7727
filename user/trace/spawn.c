// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spawn.h"

static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	return access(path, X_OK) ? -errno : 0;
}

int spawn_resolve(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	int err = -ENOENT, e;

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (snprintf(out, len, "%s", name) >= (int)len)
			return -ENAMETOOLONG;
		return executable(out);
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		if (snprintf(out, len, "%.*s%s%s", (int)(end - p), p, end == p ? "" : "/", name) <
		    (int)len) {
			e = executable(out);
			if (!e)
				return 0;
			if (e == -EACCES) /* keep looking, but report EACCES as execvp does */
				err = e;
		}
		if (!*end)
			break;
	}
	return err;
}

int spawn_script_interpreter(const char *path, char *out, size_t len)
{
	char line[256], *interp, *arg, *nl;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return -ENOENT;
	line[n] = '\0';
	nl = strchr(line, '\n');
	if (!nl)
		return -ENOENT;
	*nl = '\0';
	interp = line + 2 + strspn(line + 2, " \t");
	arg = interp + strcspn(interp, " \t");
	if (*arg) {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
		arg[strcspn(arg, " \t")] = '\0';
	}
	/* "#!/usr/bin/env python3": the interpreter is env's first argument, found in PATH */
	if (!strcmp(interp, "/usr/bin/env") || !strcmp(interp, "/bin/env")) {
		if (!strncmp(arg, "-S", 2) || !*arg)
			return -ENOENT;
		return spawn_resolve(arg, out, len);
	}
	return spawn_resolve(interp, out, len);
}

int spawn_prepare(char *const argv[], struct spawn *s)
{
	int go[2], errp[2];
	char c;
	int e;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(errp, O_CLOEXEC)) {
		e = -errno;
		close(go[0]);
		close(go[1]);
		return e;
	}
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0) {
		e = -errno;
		close(go[0]);
		close(go[1]);
		close(errp[0]);
		close(errp[1]);
		return e;
	}
	if (s->pid == 0) {
		close(go[1]);
		close(errp[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* cowtrace gave up before tracing started */
		if (s->stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(errp[1]);
	s->go_fd = go[1];
	s->err_fd = errp[0];
	return 0;
}

int spawn_release(struct spawn *s)
{
	int e = 0;
	ssize_t n;

	if (write(s->go_fd, "x", 1) != 1)
		e = errno;
	close(s->go_fd);
	s->go_fd = -1;
	if (!e) {
		/* blocks until exec succeeds (close-on-exec closes the pipe) or fails */
		do
			n = read(s->err_fd, &e, sizeof(e));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(e))
			e = 0;
	}
	close(s->err_fd);
	s->err_fd = -1;
	return -e;
}

void spawn_abort(struct spawn *s)
{
	if (s->go_fd >= 0)
		close(s->go_fd);
	if (s->err_fd >= 0)
		close(s->err_fd);
	s->go_fd = s->err_fd = -1;
	if (s->pid > 0)
		waitpid(s->pid, NULL, 0);
}
