// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests for the --fail-on gate: grammar, precedence, operators, messages, the "why" text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gate.h"

static const char *const names[] = {"pages", "bytes", "gc", "gc_pct", "a", "b", "c", NULL};

/* Figure values for one evaluation; unset figures are 0. */
struct figures {
	double v[7];
	int calls;
};

static double figure(const char *name, void *ctx)
{
	struct figures *f = ctx;

	f->calls++;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(names[i], name))
			return f->v[i];
	}
	fail_msg("value() asked for unknown figure '%s'", name);
	return NAN;
}

enum { PAGES, BYTES, GC, GC_PCT, A, B, C };

static struct gate *parse_ok(const char *text)
{
	char err[256] = "untouched";
	struct gate *g = gate_parse(text, names, err, sizeof(err));

	if (!g)
		fail_msg("'%s' did not parse: %s", text, err);
	assert_string_equal(err, "");
	return g;
}

/* Evaluate text once with the given figures; returns the result and copies the why text. */
static bool eval_text(const char *text, const struct figures *in, char *why, size_t whylen)
{
	struct figures f = *in;
	struct gate *g = parse_ok(text);
	bool held = gate_eval(g, figure, &f, why, whylen);

	gate_free(g);
	return held;
}

static void assert_holds(const char *text, const struct figures *f, const char *want_why)
{
	char why[512] = "untouched";

	if (!eval_text(text, f, why, sizeof(why)))
		fail_msg("'%s' should hold", text);
	assert_string_equal(why, want_why);
}

static void assert_fails(const char *text, const struct figures *f)
{
	char why[512] = "untouched";

	if (eval_text(text, f, why, sizeof(why)))
		fail_msg("'%s' should not hold (why: %s)", text, why);
	assert_string_equal(why, "");
}

/* text must be rejected with exactly this message. */
static void assert_error(const char *text, const char *want)
{
	char err[512] = "";
	struct gate *g = gate_parse(text, names, err, sizeof(err));

	if (g) {
		gate_free(g);
		fail_msg("'%s' parsed but should not have", text);
	}
	assert_string_equal(err, want);
}

/* text must be rejected with a message containing want. */
static void assert_error_has(const char *text, const char *want)
{
	char err[512] = "";
	struct gate *g = gate_parse(text, names, err, sizeof(err));

	if (g) {
		gate_free(g);
		fail_msg("'%s' parsed but should not have", text);
	}
	if (!strstr(err, want))
		fail_msg("error for '%s' is \"%s\", expected it to contain \"%s\"", text, err,
			 want);
}

static void test_simple(void **state)
{
	struct figures f = {.v[GC] = 1234};

	assert_holds("gc > 0", &f, "gc = 1234 > 0");
	f.v[GC] = 0;
	assert_fails("gc > 0", &f);
}

static void test_value_asked_once_per_comparison(void **state)
{
	struct figures f = {.v[GC] = 1, .v[PAGES] = 2};
	struct gate *g = parse_ok("gc > 0 and pages > 1");

	assert_true(gate_eval(g, figure, &f, NULL, 0));
	assert_int_equal(f.calls, 2);
	gate_free(g);
}

static void test_precedence(void **state)
{
	/* and binds tighter than or: a > 1 or (b > 1 and c > 1) */
	struct figures f = {.v[A] = 2};

	assert_holds("a > 1 or b > 1 and c > 1", &f, "a = 2 > 1");
	f = (struct figures){.v[B] = 2};
	assert_fails("a > 1 or b > 1 and c > 1", &f);
	f = (struct figures){.v[B] = 2, .v[C] = 3};
	assert_holds("a > 1 or b > 1 and c > 1", &f, "b = 2 > 1 and c = 3 > 1");

	/* (a > 1 and b > 1) or c > 1 */
	f = (struct figures){.v[C] = 2};
	assert_holds("a > 1 and b > 1 or c > 1", &f, "c = 2 > 1");
	f = (struct figures){.v[A] = 2};
	assert_fails("a > 1 and b > 1 or c > 1", &f);
}

static void test_parentheses(void **state)
{
	struct figures f = {.v[A] = 2};

	assert_fails("(a > 1 or b > 1) and c > 1", &f);
	f.v[C] = 5;
	assert_holds("(a > 1 or b > 1) and c > 1", &f, "a = 2 > 1 and c = 5 > 1");
	assert_holds("((a > 1))", &f, "a = 2 > 1");
	assert_holds("c > 1 and (b > 1 or (a > 1 and c == 5))", &f,
		     "c = 5 > 1 and a = 2 > 1 and c = 5 == 5");
	assert_fails("c > 1 and (b > 1 or (a > 1 and c != 5))", &f);
}

struct op_case {
	const char *text;
	double value;
	bool held;
};

static void test_operators_at_boundaries(void **state)
{
	static const struct op_case cases[] = {
	    {"gc > 5", 4, false},
	    {"gc > 5", 5, false},
	    {"gc > 5", 6, true},
	    {"gc >= 5", 4, false},
	    {"gc >= 5", 5, true},
	    {"gc >= 5", 6, true},
	    {"gc < 5", 4, true},
	    {"gc < 5", 5, false},
	    {"gc < 5", 6, false},
	    {"gc <= 5", 4, true},
	    {"gc <= 5", 5, true},
	    {"gc <= 5", 6, false},
	    {"gc == 5", 4, false},
	    {"gc == 5", 5, true},
	    {"gc == 5", 6, false},
	    {"gc != 5", 4, true},
	    {"gc != 5", 5, false},
	    {"gc != 5", 6, true},
	    {"gc > 0.5", 0.4999, false},
	    {"gc > 0.5", 0.5, false},
	    {"gc > 0.5", 0.5001, true},
	    {"gc >= 0.5", 0.4999, false},
	    {"gc >= 0.5", 0.5, true},
	    {"gc < 0.5", 0.4999, true},
	    {"gc < 0.5", 0.5, false},
	    {"gc <= 0.5", 0.5, true},
	    {"gc <= 0.5", 0.5001, false},
	    {"gc == 0.5", 0.5, true},
	    {"gc != 0.5", 0.5, false},
	    {"gc > 0", 0, false},
	    {"gc >= 0", 0, true},
	    /* the number on the left: "5 < gc" means "gc > 5" */
	    {"5 < gc", 5, false},
	    {"5 < gc", 6, true},
	    {"5 <= gc", 5, true},
	    {"5 <= gc", 4, false},
	    {"5 > gc", 4, true},
	    {"5 > gc", 5, false},
	    {"5 >= gc", 5, true},
	    {"5 >= gc", 6, false},
	    {"5 == gc", 5, true},
	    {"5 != gc", 5, false},
	    {"5 != gc", 4, true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct figures f = {.v[GC] = cases[i].value};
		char why[128];

		if (eval_text(cases[i].text, &f, why, sizeof(why)) != cases[i].held)
			fail_msg("'%s' with gc = %g should be %s", cases[i].text, cases[i].value,
				 cases[i].held ? "true" : "false");
	}
}

static void test_number_on_the_left_reads_name_first(void **state)
{
	struct figures f = {.v[GC] = 6};

	assert_holds("5 < gc", &f, "gc = 6 > 5");
	assert_holds("6 >= gc", &f, "gc = 6 <= 6");
	assert_holds("6 == gc", &f, "gc = 6 == 6");
	assert_holds("1 != gc", &f, "gc = 6 != 1");
}

static void test_symbols_and_whitespace(void **state)
{
	struct figures f = {.v[GC] = 1, .v[PAGES] = 7};

	assert_holds("gc>0&&pages>=7", &f, "gc = 1 > 0 and pages = 7 >= 7");
	assert_holds("gc<0||pages==7", &f, "pages = 7 == 7");
	assert_holds("\t gc\n>\r0 \n", &f, "gc = 1 > 0");
	assert_holds("(gc>0)and(pages>1)", &f, "gc = 1 > 0 and pages = 7 > 1");
	assert_holds("gc > 0 && pages > 1 or a > 1", &f, "gc = 1 > 0 and pages = 7 > 1");
}

static void test_why_number_format(void **state)
{
	struct figures f = {.v[GC_PCT] = 12.5, .v[PAGES] = 30000, .v[BYTES] = 1e12};

	assert_holds("gc_pct > 1 or pages > 25000", &f,
		     "gc_pct = 12.5 > 1 and pages = 30000 > 25000");
	assert_holds("gc_pct > 0.25", &f, "gc_pct = 12.5 > 0.25");
	assert_holds("bytes >= 1000000000000", &f, "bytes = 1000000000000 >= 1000000000000");
	f.v[GC_PCT] = 1.0 / 3;
	assert_holds("gc_pct > 0.3", &f, "gc_pct = 0.333333 > 0.3");
	f.v[GC_PCT] = 2.50;
	assert_holds("gc_pct == 2.50", &f, "gc_pct = 2.5 == 2.5");
}

static void test_why_lists_only_reasons(void **state)
{
	/* a held inside a failed 'and': it is not a reason */
	struct figures f = {.v[A] = 2, .v[C] = 2};

	assert_holds("(a > 1 and b > 1) or c > 1", &f, "c = 2 > 1");
	assert_holds("c > 1 or (a > 1 and b > 1)", &f, "c = 2 > 1");
	/* only the branches of an 'or' that held */
	f = (struct figures){.v[PAGES] = 30000};
	assert_holds("gc_pct > 1 or pages > 25000", &f, "pages = 30000 > 25000");
}

static void test_why_truncated(void **state)
{
	struct figures f = {.v[GC] = 1234};
	struct gate *g = parse_ok("gc > 0");
	char why[8];

	memset(why, 'x', sizeof(why));
	assert_true(gate_eval(g, figure, &f, why, sizeof(why)));
	assert_string_equal(why, "gc = 12");
	/* no buffer at all is fine */
	assert_true(gate_eval(g, figure, &f, NULL, 0));
	assert_false(gate_eval(g, NULL, &f, why, sizeof(why)));
	assert_false(gate_eval(NULL, figure, &f, why, sizeof(why)));
	gate_free(g);
	gate_free(NULL);
}

static void test_nan_never_holds(void **state)
{
	struct figures f = {.v[GC_PCT] = NAN, .v[GC] = 1};

	assert_fails("gc_pct != 0", &f);
	assert_fails("gc_pct >= 0", &f);
	assert_fails("gc_pct < 1", &f);
	assert_holds("gc_pct > 1 or gc > 0", &f, "gc = 1 > 0");
}

static void test_long_and_chain(void **state)
{
	/* 300 terms: the parser must not recurse per term */
	size_t n = 300, len = 0;
	char *text = malloc(n * 12);
	struct figures f = {.v[GC] = 1};
	char why[64];

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += sprintf(text + len, "%sgc > 0", i ? " and " : "");
	assert_true(len <= GATE_MAX_LEN);
	assert_true(eval_text(text, &f, why, sizeof(why)));
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_memory_equal(why, "gc = 1 > 0 and gc = 1 > 0", 25);
	f.v[GC] = 0;
	assert_false(eval_text(text, &f, why, sizeof(why)));
	free(text);
}

static void test_depth_limit(void **state)
{
	char text[256];
	size_t len = 0;
	struct figures f = {.v[GC] = 1};
	char want[128];

	/* exactly GATE_MAX_DEPTH levels parse */
	for (int i = 0; i < GATE_MAX_DEPTH; i++)
		text[len++] = '(';
	len += sprintf(text + len, "gc > 0");
	for (int i = 0; i < GATE_MAX_DEPTH; i++)
		text[len++] = ')';
	text[len] = '\0';
	assert_holds(text, &f, "gc = 1 > 0");

	/* one more does not, and the message names the column of the first '(' too many */
	len = 0;
	for (int i = 0; i <= GATE_MAX_DEPTH; i++)
		text[len++] = '(';
	len += sprintf(text + len, "gc > 0");
	for (int i = 0; i <= GATE_MAX_DEPTH; i++)
		text[len++] = ')';
	text[len] = '\0';
	snprintf(want, sizeof(want), "parentheses nested deeper than %d at column %d",
		 GATE_MAX_DEPTH, GATE_MAX_DEPTH + 1);
	assert_error(text, want);
}

static void test_hostile_nesting(void **state)
{
	/* 4000 '(' must be refused without using 4000 stack frames */
	char *text = malloc(4001);

	assert_non_null(text);
	memset(text, '(', 4000);
	text[4000] = '\0';
	assert_error_has(text, "nested deeper than");
	free(text);
}

static void test_length_limit(void **state)
{
	char *text = malloc(GATE_MAX_LEN + 2);
	struct figures f = {.v[GC] = 1};

	assert_non_null(text);
	memset(text, ' ', GATE_MAX_LEN + 1);
	memcpy(text, "gc > 0", 6);
	text[GATE_MAX_LEN] = '\0';
	assert_holds(text, &f, "gc = 1 > 0");
	text[GATE_MAX_LEN] = ' ';
	text[GATE_MAX_LEN + 1] = '\0';
	assert_error(text, "expression longer than 4096 characters");
	free(text);
}

static void test_errors(void **state)
{
	assert_error("", "empty expression");
	assert_error("  \t\n", "empty expression");
	assert_error(NULL, "empty expression");
	assert_error("gcc > 1",
		     "unknown figure 'gcc' at column 1 (known: pages, bytes, gc, gc_pct, "
		     "a, b, c)");
	assert_error("gc > 1 and  gcc > 1", "unknown figure 'gcc' at column 13 (known: pages, "
					    "bytes, gc, gc_pct, a, b, c)");
	assert_error("1 < gcc",
		     "unknown figure 'gcc' at column 5 (known: pages, bytes, gc, gc_pct, "
		     "a, b, c)");
	assert_error("gc > pages", "expected a number after '>' at column 6, got 'pages'");
	assert_error("gc >",
		     "unexpected end of expression at column 5: expected a number after '>'");
	assert_error("gc", "unexpected end of expression at column 3: expected a comparison "
			   "(> >= < <= == !=) after 'gc'");
	assert_error("gc 1",
		     "expected a comparison (> >= < <= == !=) after 'gc' at column 4, got '1'");
	assert_error("> 1", "expected a figure name, a number or '(' at column 1, got '>'");
	assert_error("gc > 1 and", "unexpected end of expression at column 11: expected a figure "
				   "name, a number or '(' after 'and'");
	assert_error("gc > 1 ||", "unexpected end of expression at column 10: expected a figure "
				  "name, a number or '(' after '||'");
	assert_error("gc > 1 or or", "expected a figure name, a number or '(' after 'or' at column "
				     "11, got 'or'");
	assert_error("gc > 1 pages > 2", "unexpected 'pages' at column 8 (expected 'and', 'or' or "
					 "the end)");
	assert_error("gc > 1 2", "unexpected '2' at column 8 (expected 'and', 'or' or the end)");
	assert_error("1 < 2", "expected a figure name after '<' at column 5, got '2'");
	assert_error("(gc > 1", "unexpected end of expression at column 8: missing ')' for the '(' "
				"at column 1");
	assert_error("((gc > 1) or a > 1", "unexpected end of expression at column 19: missing ')' "
					   "for the '(' at column 1");
	assert_error("(gc > 1 a", "unexpected 'a' at column 9 (expected 'and', 'or' or ')')");
	assert_error("gc > 1)", "unmatched ')' at column 7");
	assert_error("()",
		     "expected a figure name, a number or '(' after '(' at column 2, got ')'");
	assert_error("gc > -1", "negative number at column 6 (figures are never negative)");
	assert_error("-1 < gc", "negative number at column 1 (figures are never negative)");
	assert_error("gc = 1", "unexpected '=' at column 4 (did you mean '=='?)");
	assert_error("gc ! 1", "unexpected '!' at column 4");
	assert_error("gc > 1 & a > 1", "unexpected '&' at column 8 (did you mean '&&'?)");
	assert_error("gc > 1 | a > 1", "unexpected '|' at column 8 (did you mean '||'?)");
	assert_error("gc > 1.", "bad number '1.' at column 6 (write e.g. 25000 or 0.5)");
	assert_error("gc > 1e5", "bad number '1e5' at column 6 (write e.g. 25000 or 0.5)");
	assert_error("gc > 1.2.3", "bad number '1.2.3' at column 6 (write e.g. 25000 or 0.5)");
	assert_error("gc > .5", "bad number at column 6 (write a digit before the '.', e.g. 0.5)");
	assert_error("gc > 1and a > 1", "bad number '1and' at column 6 (write e.g. 25000 or 0.5)");
	assert_error("GC > 1", "unexpected 'G' at column 1");
	assert_error("gc > 1 AND a > 1", "unexpected 'A' at column 8");
	assert_error("gc > 1 \xc3\xa9", "unexpected byte 0xc3 at column 8");
	assert_error("gc > 1 and (a > 1 or b",
		     "unexpected end of expression at column 23: expected "
		     "a comparison (> >= < <= == !=) after 'b'");
	assert_error("gc > 1 and (a > 1 or b > 1", "unexpected end of expression at column 27: "
						   "missing ')' for the '(' at column 12");
}

static void test_number_too_large(void **state)
{
	char text[512];

	memcpy(text, "gc > ", 5);
	memset(text + 5, '9', 400);
	text[405] = '\0';
	assert_error(text, "number too large or malformed at column 6");
}

static void test_error_buffers(void **state)
{
	static const char *const none[] = {NULL};
	char err[12], big[128];

	memset(err, 'x', sizeof(err));
	assert_null(gate_parse("gcc > 1", names, err, sizeof(err)));
	assert_string_equal(err, "unknown fig");
	assert_null(gate_parse("gcc > 1", names, NULL, 0));

	assert_null(gate_parse("gc > 1", NULL, big, sizeof(big)));
	assert_string_equal(big, "unknown figure 'gc' at column 1 (known: none)");
	assert_null(gate_parse("gc > 1", none, big, sizeof(big)));
	assert_string_equal(big, "unknown figure 'gc' at column 1 (known: none)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_value_asked_once_per_comparison),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_parentheses),
	    cmocka_unit_test(test_operators_at_boundaries),
	    cmocka_unit_test(test_number_on_the_left_reads_name_first),
	    cmocka_unit_test(test_symbols_and_whitespace),
	    cmocka_unit_test(test_why_number_format),
	    cmocka_unit_test(test_why_lists_only_reasons),
	    cmocka_unit_test(test_why_truncated),
	    cmocka_unit_test(test_nan_never_holds),
	    cmocka_unit_test(test_long_and_chain),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_hostile_nesting),
	    cmocka_unit_test(test_length_limit),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_number_too_large),
	    cmocka_unit_test(test_error_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
