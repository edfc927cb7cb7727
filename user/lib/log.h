/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One place for messages on stderr, all prefixed "cowtrace: ", and for libbpf's own output. */
#ifndef COWTRACE_LOG_H
#define COWTRACE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <bpf/libbpf.h>

void log_set_verbose(bool verbose);
bool log_verbose(void);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* only with -v */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* libbpf print callback: debug messages only with -v */
int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif
