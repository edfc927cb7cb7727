// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests for the JSON writer: exact output text, escaping, UTF-8 repair, misuse, I/O errors. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* A writer into memory; finish() closes it and returns what was written. */
struct mem {
	FILE *f;
	char *buf;
	size_t len;
	struct json_writer *w;
};

static struct json_writer *mem_open(struct mem *m)
{
	memset(m, 0, sizeof(*m));
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	m->w = json_writer_new(m->f);
	assert_non_null(m->w);
	return m->w;
}

/* Returns the writer's error; the text stays in m->buf until mem_free(). */
static int mem_finish(struct mem *m)
{
	int err = json_writer_error(m->w);

	json_writer_free(m->w);
	assert_int_equal(fclose(m->f), 0);
	return err;
}

static void mem_free(struct mem *m)
{
	free(m->buf);
}

static void assert_output(struct mem *m, int want_err, const char *want)
{
	assert_int_equal(mem_finish(m), want_err);
	assert_string_equal(m->buf, want);
	mem_free(m);
}

/* One string value at the top level, escaped. */
static void assert_string_json(const char *in, const char *want)
{
	struct mem m;

	json_string(mem_open(&m), in);
	assert_output(&m, 0, want);
}

static void test_nested_document(void **state)
{
	struct mem m;
	struct json_writer *w = mem_open(&m);

	json_begin_object(w);
	json_key(w, "tool");
	json_string(w, "cowtrace");
	json_key(w, "n");
	json_uint(w, 1);
	json_key(w, "neg");
	json_int(w, -5);
	json_key(w, "d");
	json_double(w, 1.5, 2);
	json_key(w, "ok");
	json_bool(w, true);
	json_key(w, "no");
	json_bool(w, false);
	json_key(w, "nil");
	json_null(w);
	json_key(w, "s_null");
	json_string(w, NULL);
	json_key(w, "empty_obj");
	json_begin_object(w);
	json_end_object(w);
	json_key(w, "empty_arr");
	json_begin_array(w);
	json_end_array(w);
	json_key(w, "arr");
	json_begin_array(w);
	json_uint(w, 1);
	json_begin_object(w);
	json_key(w, "a");
	json_begin_array(w);
	json_string(w, "x");
	json_end_array(w);
	json_end_object(w);
	json_begin_array(w);
	json_end_array(w);
	json_end_array(w);
	json_end_object(w);

	assert_output(&m, 0,
		      "{\n"
		      "  \"tool\": \"cowtrace\",\n"
		      "  \"n\": 1,\n"
		      "  \"neg\": -5,\n"
		      "  \"d\": 1.50,\n"
		      "  \"ok\": true,\n"
		      "  \"no\": false,\n"
		      "  \"nil\": null,\n"
		      "  \"s_null\": null,\n"
		      "  \"empty_obj\": {},\n"
		      "  \"empty_arr\": [],\n"
		      "  \"arr\": [\n"
		      "    1,\n"
		      "    {\n"
		      "      \"a\": [\n"
		      "        \"x\"\n"
		      "      ]\n"
		      "    },\n"
		      "    []\n"
		      "  ]\n"
		      "}");
}

static void test_top_level_scalars(void **state)
{
	struct json_writer *w;
	struct mem m;

	json_uint(mem_open(&m), 42);
	assert_output(&m, 0, "42");
	json_null(mem_open(&m));
	assert_output(&m, 0, "null");

	w = mem_open(&m);
	json_begin_array(w);
	json_int(w, 0);
	json_int(w, -1);
	json_end_array(w);
	assert_output(&m, 0, "[\n  0,\n  -1\n]");
}

static void test_integer_limits(void **state)
{
	struct mem m;
	struct json_writer *w = mem_open(&m);

	json_begin_array(w);
	json_uint(w, ULLONG_MAX);
	json_int(w, LLONG_MIN);
	json_int(w, LLONG_MAX);
	json_end_array(w);
	assert_output(
	    &m, 0, "[\n  18446744073709551615,\n  -9223372036854775808,\n  9223372036854775807\n]");
}

static void test_doubles(void **state)
{
	const char *want_head = "[\n  null,\n  null,\n  null,\n  0.100,\n  12.35,\n  4,\n"
				"  0.50000000000000000,\n  -1";
	struct mem m;
	struct json_writer *w = mem_open(&m);
	const char *digits;

	json_begin_array(w);
	json_double(w, NAN, 3);
	json_double(w, INFINITY, 3);
	json_double(w, -INFINITY, 3);
	json_double(w, 0.1, 3);
	json_double(w, 12.345678, 2);
	json_double(w, 3.7, -1);   /* clamped to 0 decimals */
	json_double(w, 0.5, 99);   /* clamped to 17 decimals */
	json_double(w, -1e300, 0); /* long, must not be cut */
	json_end_array(w);
	assert_int_equal(mem_finish(&m), 0);
	assert_memory_equal(m.buf, want_head, strlen(want_head));
	/* -1e300 printed in full: "-1" and 300 more digits */
	digits = m.buf + strlen(want_head) - 1;
	assert_int_equal(strspn(digits, "0123456789"), 301);
	assert_string_equal(digits + 301, "\n]");
	mem_free(&m);
}

static void test_escapes(void **state)
{
	assert_string_json("plain", "\"plain\"");
	assert_string_json("", "\"\"");
	assert_string_json("q\"b\\s/", "\"q\\\"b\\\\s/\"");
	assert_string_json("n\nt\tr\rb\bf\f", "\"n\\nt\\tr\\rb\\bf\\f\"");
	assert_string_json("\x01\x1f\x7f x", "\"\\u0001\\u001f\\u007f x\"");
	assert_string_json("python3 -c 'print(1)'\n", "\"python3 -c 'print(1)'\\n\"");
}

static void test_utf8_kept(void **state)
{
	/* 2-, 3- and 4-byte sequences, and the extremes U+0080, U+FFFF, U+10FFFF */
	assert_string_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
			   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	assert_string_json("\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf",
			   "\"\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
}

static void test_utf8_repaired(void **state)
{
	assert_string_json("\xff", "\"\\ufffd\"");
	assert_string_json("a\x80"
			   "b",
			   "\"a\\ufffdb\"");		 /* stray continuation */
	assert_string_json("\xe2\x82", "\"\\ufffd\"");	 /* truncated at the end */
	assert_string_json("\xe2\x82x", "\"\\ufffdx\""); /* truncated in the middle */
	assert_string_json("\xf0\x9f\x98"
			   "A",
			   "\"\\ufffdA\"");
	assert_string_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");		 /* overlong '/' */
	assert_string_json("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
	assert_string_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a UTF-16 surrogate */
	assert_string_json("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	assert_string_json("\xf5\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
	assert_string_json("\xc3\n", "\"\\ufffd\\n\"");
}

static void test_key_escaped(void **state)
{
	struct mem m;
	struct json_writer *w = mem_open(&m);

	json_begin_object(w);
	json_key(w, "a\"b\xff");
	json_uint(w, 1);
	json_end_object(w);
	assert_output(&m, 0, "{\n  \"a\\\"b\\ufffd\": 1\n}");
}

/* Each member writer writes exactly what json_key() and its value writer write. */
static void test_members(void **state)
{
	struct mem m;
	struct json_writer *w = mem_open(&m);

	json_begin_object(w);
	json_member_string(w, "s", "a\"b\xff");
	json_member_string(w, "s_null", NULL);
	json_member_uint(w, "u", ULLONG_MAX);
	json_member_int(w, "i", LLONG_MIN);
	json_member_double(w, "d", 12.345678, 2);
	json_member_double(w, "d_nan", NAN, 3);
	json_member_double(w, "d_clamped", 3.7, -1);
	json_member_bool(w, "t", true);
	json_member_bool(w, "f", false);
	json_member_uint(w, "k\n\"", 0); /* the key is escaped like json_key()'s */
	json_key(w, "nested");
	json_begin_object(w);
	json_member_int(w, "x", -1);
	json_end_object(w);
	json_end_object(w);
	assert_output(&m, 0,
		      "{\n"
		      "  \"s\": \"a\\\"b\\ufffd\",\n"
		      "  \"s_null\": null,\n"
		      "  \"u\": 18446744073709551615,\n"
		      "  \"i\": -9223372036854775808,\n"
		      "  \"d\": 12.35,\n"
		      "  \"d_nan\": null,\n"
		      "  \"d_clamped\": 4,\n"
		      "  \"t\": true,\n"
		      "  \"f\": false,\n"
		      "  \"k\\n\\\"\": 0,\n"
		      "  \"nested\": {\n"
		      "    \"x\": -1\n"
		      "  }\n"
		      "}");
}

/* A member where no key may stand is misuse, as json_key() there is: nothing of it is written. */
static void test_member_misuse(void **state)
{
	struct mem m;
	struct json_writer *w;

	w = mem_open(&m);
	json_member_uint(w, "k", 1); /* at the top level */
	assert_output(&m, -EINVAL, "");

	w = mem_open(&m);
	json_begin_array(w);
	json_uint(w, 1);
	json_member_string(w, "k", "v"); /* in an array */
	json_uint(w, 2);
	json_end_array(w);
	assert_output(&m, -EINVAL, "[\n  1");

	w = mem_open(&m);
	json_begin_object(w);
	json_key(w, "a");
	json_member_bool(w, "b", true); /* after a key still waiting for its value */
	assert_output(&m, -EINVAL, "{\n  \"a\": ");

	w = mem_open(&m);
	json_begin_object(w);
	json_member_int(w, NULL, 1); /* no key */
	json_end_object(w);
	assert_output(&m, -EINVAL, "{");

	w = mem_open(&m);
	json_begin_object(w);
	json_member_double(w, "d", 1, 1);
	json_end_object(w);
	json_member_uint(w, "after", 1); /* after the document */
	assert_output(&m, -EINVAL, "{\n  \"d\": 1.0\n}");
}

/* json_document_begin()'s object and "tool" member, and json_document_end()'s newline. */
static void test_document(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer *w;

	assert_non_null(f);
	w = json_document_begin(f);
	assert_non_null(w);
	json_member_string(w, "kind", "test");
	assert_int_equal(json_document_end(w, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "{\n  \"tool\": \"cowtrace\",\n  \"kind\": \"test\"\n}\n");
	free(buf);
}

/* Each misuse stops the output where it happened and reports -EINVAL. */
static void test_misuse(void **state)
{
	struct mem m;
	struct json_writer *w;

	w = mem_open(&m);
	json_begin_object(w);
	json_uint(w, 1); /* value without key */
	json_key(w, "k");
	json_uint(w, 2);
	json_end_object(w);
	assert_output(&m, -EINVAL, "{");

	w = mem_open(&m);
	json_begin_array(w);
	json_key(w, "k"); /* key in an array */
	json_end_array(w);
	assert_output(&m, -EINVAL, "[");

	w = mem_open(&m);
	json_key(w, "k"); /* key at the top level */
	assert_output(&m, -EINVAL, "");

	w = mem_open(&m);
	json_end_object(w); /* end without begin */
	assert_output(&m, -EINVAL, "");

	w = mem_open(&m);
	json_begin_object(w);
	json_end_array(w); /* wrong kind of end */
	assert_output(&m, -EINVAL, "{");

	w = mem_open(&m);
	json_begin_object(w);
	json_key(w, "a");
	json_key(w, "b"); /* key twice */
	assert_output(&m, -EINVAL, "{\n  \"a\": ");

	w = mem_open(&m);
	json_begin_object(w);
	json_key(w, "a");
	json_end_object(w); /* key without value */
	assert_output(&m, -EINVAL, "{\n  \"a\": ");

	w = mem_open(&m);
	json_begin_object(w);
	json_key(w, NULL);
	assert_output(&m, -EINVAL, "{");

	w = mem_open(&m);
	json_uint(w, 1);
	json_uint(w, 2); /* a second document */
	assert_output(&m, -EINVAL, "1");

	w = mem_open(&m);
	json_begin_array(w);
	json_end_array(w);
	json_end_array(w); /* one end too many */
	assert_output(&m, -EINVAL, "[]");
}

static void test_depth_limit(void **state)
{
	char want[1 + 2 * (JSON_MAX_DEPTH - 1) + 4];
	struct mem m;
	struct json_writer *w = mem_open(&m);

	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		json_begin_array(w);
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		json_end_array(w);
	assert_int_equal(mem_finish(&m), 0);
	/* the innermost is empty, "[]", indented two spaces per enclosing level */
	memset(want, ' ', sizeof(want));
	want[0] = '\n';
	memcpy(want + 1 + 2 * (JSON_MAX_DEPTH - 1), "[]\n", 4);
	assert_non_null(strstr(m.buf, want));
	assert_null(strstr(m.buf, "[[")); /* every element on its own line */
	assert_int_equal(m.buf[m.len - 1], ']');
	mem_free(&m);

	w = mem_open(&m);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		json_begin_array(w);
	assert_int_equal(json_writer_error(w), -E2BIG);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		json_end_array(w);
	assert_int_equal(mem_finish(&m), -E2BIG);
	/* nothing after the 64th '[' and its indentation */
	assert_int_equal(m.buf[m.len - 1], '[');
	mem_free(&m);
}

static void test_write_error(void **state)
{
	FILE *f = fopen("/dev/full", "w");
	struct json_writer *w;

	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0); /* so the error shows at the write, not at fclose */
	w = json_writer_new(f);
	assert_non_null(w);
	json_begin_object(w);
	assert_int_equal(json_writer_error(w), -ENOSPC);
	json_key(w, "a");
	json_uint(w, 1);
	assert_int_equal(json_writer_error(w), -ENOSPC);
	json_writer_free(w);
	fclose(f);
}

static void test_null_arguments(void **state)
{
	assert_null(json_writer_new(NULL));
	assert_int_equal(json_writer_error(NULL), -EINVAL);
	/* all no-ops */
	json_begin_object(NULL);
	json_key(NULL, "a");
	json_string(NULL, "a");
	json_string(NULL, NULL);
	json_uint(NULL, 1);
	json_double(NULL, 1, 1);
	json_member_string(NULL, "a", "a");
	json_member_string(NULL, "a", NULL);
	json_member_uint(NULL, "a", 1);
	json_member_int(NULL, "a", -1);
	json_member_double(NULL, "a", 1, 1);
	json_member_bool(NULL, "a", true);
	json_end_object(NULL);
	json_writer_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nested_document), cmocka_unit_test(test_top_level_scalars),
	    cmocka_unit_test(test_integer_limits),  cmocka_unit_test(test_doubles),
	    cmocka_unit_test(test_escapes),	    cmocka_unit_test(test_utf8_kept),
	    cmocka_unit_test(test_utf8_repaired),   cmocka_unit_test(test_key_escaped),
	    cmocka_unit_test(test_members),	    cmocka_unit_test(test_member_misuse),
	    cmocka_unit_test(test_document),	    cmocka_unit_test(test_misuse),
	    cmocka_unit_test(test_depth_limit),	    cmocka_unit_test(test_write_error),
	    cmocka_unit_test(test_null_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
