/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Starting COMMAND already traced: the child is forked first and waits on a pipe, cowtrace loads
 * and attaches, marks the child traced, then lets it exec. No copy of COMMAND's is missed, and
 * the child never holds cowtrace's BPF file descriptors (it was forked before they existed).
 */
#ifndef COWTRACE_SPAWN_H
#define COWTRACE_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn {
	pid_t pid;
	int go_fd;  /* write end: one byte lets the child exec; closing it makes it exit */
	int err_fd; /* read end: the child writes exec's errno here; EOF means exec succeeded */
	bool stdout_to_stderr; /* set before spawn_prepare: COMMAND writes its stdout to stderr */
};

/* PATH lookup as execvp does it; 0 and the path in out, or -ENOENT / -EACCES. */
int spawn_resolve(const char *name, char *out, size_t len);
/* For a script, the interpreter of its "#!" line (through /usr/bin/env), resolved; else -ENOENT. */
int spawn_script_interpreter(const char *path, char *out, size_t len);
int spawn_prepare(char *const argv[], struct spawn *s);
/* Lets the child exec; 0, or -errno when exec failed. */
int spawn_release(struct spawn *s);
/* The child exits without running COMMAND (setup failed). */
void spawn_abort(struct spawn *s);

#endif
