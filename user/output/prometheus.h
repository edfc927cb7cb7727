/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * --prometheus FILE: the report's figures in Prometheus's text exposition format, for
 * node_exporter's textfile collector. The file is rewritten whole at every -i tick and at the
 * end: a new file beside it, renamed into place (outfile.h), so a scrape never reads half of it.
 *
 * Labels are few and bounded: role, program (the comm), cause, kind, generation; at most
 * PROM_PROGRAMS_MAX programs get a series of their own, the rest are summed under
 * program="(other)". A pid label only with --prometheus-pids.
 */
#ifndef COWTRACE_PROMETHEUS_H
#define COWTRACE_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "outfile.h"
#include "report.h"

/* (role, program) pairs with series of their own; the others share program="(other)" */
#define PROM_PROGRAMS_MAX  32
#define PROM_OTHER_PROGRAM "(other)"

/*
 * A label value as the exposition format wants it: backslash, double quote and line feed
 * escaped (\\, \", \n); other control characters and bytes that are not UTF-8 replaced by
 * U+FFFD (the format is UTF-8, and a name from a traced process can hold anything). Always
 * terminated; cut at a whole character when dst is too short. Returns dst.
 */
char *prometheus_label_escape(char *dst, size_t len, const char *src);

/* The whole exposition of r; pids: per-process series with a pid label. 0 or -errno. */
int prometheus_write(FILE *f, const struct report *r, bool pids);

struct prom_file {
	struct outfile out; /* out.path: the file; out.f: the next version, being written */
	bool pids;
	int last_err; /* of the last update: 0 or -errno */
};

/* Creates the first temporary file beside path, so that a bad path fails before anything
 * is attached (nothing happens to path yet). path NULL: no such output, 0. 0 or -errno. */
int prom_file_open(struct prom_file *p, const char *path, bool pids);
/* Writes r and renames it into place; then the next update starts a new temporary file.
 * 0 or -errno (path keeps its previous version). */
int prom_file_update(struct prom_file *p, const struct report *r);
/* Removes a temporary file not put in place. */
void prom_file_close(struct prom_file *p);

#endif
