// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The staging gate behind --fail-on EXPR: a small boolean expression over the report's figures,
 * e.g. "gc > 0" or "gc_pct > 1 or pages > 25000".
 *
 *   expr     := and_expr ('or' | '||') and_expr ...
 *   and_expr := cmp ('and' | '&&') cmp ...
 *   cmp      := '(' expr ')' | NAME OP NUMBER | NUMBER OP NAME
 *   OP       := > >= < <= == !=
 *   NUMBER   := non-negative decimal, e.g. 1, 0.5, 25000
 *   NAME     := [a-z_][a-z0-9_]*, one of the names the caller allows
 *
 * 'and' binds tighter than 'or'. Parentheses nest at most GATE_MAX_DEPTH deep and the text is at
 * most GATE_MAX_LEN characters, so hostile input cannot exhaust the stack or memory.
 */
#ifndef COWTRACE_GATE_H
#define COWTRACE_GATE_H

#include <stdbool.h>
#include <stddef.h>

#define GATE_MAX_DEPTH 32
#define GATE_MAX_LEN   4096

struct gate;

/*
 * Parse text. names is the NULL-terminated list of figure names the gate may use. On error
 * returns NULL and writes a one-line message naming the problem and its column into err
 * (err may be NULL when errlen is 0).
 */
struct gate *gate_parse(const char *text, const char *const *names, char *err, size_t errlen);

/* The same, for figures that can be negative (the changes cowtrace diff computes): NUMBER may
 * start with '-', e.g. "gc_pages_per_worker_change_pct > -90". */
struct gate *gate_parse_signed(const char *text, const char *const *names, char *err,
			       size_t errlen);

/* The value of one figure; name is one of the names given to gate_parse(). */
typedef double (*gate_value_fn)(const char *name, void *ctx);

/*
 * Evaluate the gate. Returns true when the whole expression holds, and then writes into why the
 * comparisons that made it hold, joined by " and ", e.g. "gc_pct = 12.5 > 1 and pages = 30000 >
 * 25000". A figure whose value is NaN (undefined, e.g. a percentage of nothing) satisfies no
 * comparison, not even '!=': an undefined figure must not trip a gate.
 */
bool gate_eval(const struct gate *g, gate_value_fn value, void *ctx, char *why, size_t whylen);

void gate_free(struct gate *g);

#endif /* COWTRACE_GATE_H */
