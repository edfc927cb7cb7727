/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Report files that are never lost: each is written to a new temporary file beside it and
 * renamed into place only when complete, so a failed or interrupted run leaves the previous
 * report as it was, and a symlink planted at the path is replaced, never followed.
 */
#ifndef COWTRACE_OUTFILE_H
#define COWTRACE_OUTFILE_H

#include <stdio.h>

struct outfile {
	const char *path; /* as given; "-" is stdout; NULL: no such output */
	char *tmp;	  /* the temporary file, until committed or discarded */
	FILE *f;
};

/* Creates the temporary file (nothing happens to path yet). 0 or -errno; -EISDIR when path is
 * a directory. path NULL: nothing to open, 0. */
int outfile_open(struct outfile *o, const char *path);
/* Flushes, closes and renames into place (stdout: flushes). 0, or -errno (then discarded). */
int outfile_commit(struct outfile *o);
/* Closes and removes the temporary file, if still there: path keeps what it had. */
void outfile_discard(struct outfile *o);

#endif
