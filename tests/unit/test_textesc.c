// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "textesc.h"

static void assert_esc(const char *in, size_t cap, const char *want)
{
	char buf[256];

	assert_true(cap <= sizeof(buf));
	assert_string_equal(text_esc(buf, cap, in), want);
	assert_true(strlen(buf) < cap);
}

static void test_plain(void **state)
{
	(void)state;
	assert_esc("python3", 64, "python3");
	assert_esc("gunicorn: worker [app]", 64, "gunicorn: worker [app]");
	assert_esc("caf\xc3\xa9 \xe2\x82\xac", 64, "caf\xc3\xa9 \xe2\x82\xac"); /* é € kept */
	assert_esc("", 64, "");
	assert_esc(NULL, 64, "");
}

static void test_controls(void **state)
{
	(void)state;
	/* set the window title, clear the screen */
	assert_esc("\x1b]0;owned\x07", 64, "\\x1b]0;owned\\x07");
	assert_esc("a\x1b[2Jb", 64, "a\\x1b[2Jb");
	assert_esc("tab\there\nnl\r", 64, "tab\\x09here\\x0anl\\x0d");
	assert_esc("del\x7f", 64, "del\\x7f");
	assert_esc("c1 \xc2\x9b" "31m", 64, "c1 \\xc2\\x9b31m"); /* U+009B, the 8-bit CSI */
	assert_esc("back\\slash", 64, "back\\\\slash");
}

static void test_ill_formed(void **state)
{
	(void)state;
	assert_esc("\xff\xfe", 64, "\\xff\\xfe");
	assert_esc("\xc3", 64, "\\xc3");		      /* cut sequence */
	assert_esc("\xe0\x80\xaf", 64, "\\xe0\\x80\\xaf");  /* overlong */
	assert_esc("\xed\xa0\x80", 64, "\\xed\\xa0\\x80");  /* surrogate */
	assert_esc("ok\x9b", 64, "ok\\x9b");		      /* a lone C1 byte */
}

static void test_cut(void **state)
{
	(void)state;
	assert_esc("python3", 4, "pyt");
	assert_esc("ab\x1b", 4, "ab");	       /* no half escape */
	assert_esc("ab\x1b", 7, "ab\\x1b");
	assert_esc("a\xc3\xa9", 3, "a");       /* no half character */
	assert_esc("a\xc3\xa9", 4, "a\xc3\xa9");
	assert_esc("x", 1, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_controls),
	    cmocka_unit_test(test_ill_formed),
	    cmocka_unit_test(test_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
