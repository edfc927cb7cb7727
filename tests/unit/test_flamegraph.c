// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for the flame graph exports: exact folded text (merging, order, name normalization),
 * totals, the SVG's frames, hover titles, escaping and colors, speedscope's JSON, and the sizes
 * that matter (100k distinct stacks, 500-frame stacks).
 *
 * With FLAMEGRAPH_SAMPLE_DIR=DIR set, the binary runs no tests: it writes sample exports into DIR
 * for tests/render/test_flamegraph_render.py (XML parsing, a Chromium screenshot, node --check):
 *   sample.svg sample.folded sample.speedscope.json  a cowtrace-like graph with awkward names
 *   sample.total                                      flame_total() of it, a decimal line
 *   sample-empty.svg                                  no stacks
 *   sample-deep.svg                                   a 500-frame stack
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flamegraph.h"

#define MAX_FRAMES 600

/* Adds one stack given as NULL-terminated varargs. */
static int add(struct flame *f, unsigned long long count, ...)
{
	const char *frames[MAX_FRAMES];
	size_t n = 0;
	va_list ap;

	va_start(ap, count);
	while (n < MAX_FRAMES && (frames[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	return flame_add(f, frames, n, count);
}

enum format { FOLDED, SVG, SPEEDSCOPE };

/* The whole export as a string (free it); the writer must succeed. */
static char *render(const struct flame *f, enum format fmt, const char *unit)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int err = -EINVAL;

	assert_non_null(out);
	switch (fmt) {
	case FOLDED:
		err = flame_write_folded(f, out);
		break;
	case SVG:
		err = flame_write_svg(f, out, "Copies <by stack>", "pid 42 & children", unit);
		break;
	case SPEEDSCOPE:
		err = flame_write_speedscope(f, out, "cow", unit);
		break;
	}
	assert_int_equal(err, 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* Linear even under ASan, whose strstr() measures the whole haystack at every call. */
static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = hay; (p = strchr(p, needle[0])); p++) {
		if (!strncmp(p, needle, len)) {
			n++;
			p += len - 1;
		}
	}
	return n;
}

/* The fill of the rect that follows "<g><title>NAME — ", as 0xRRGGBB. */
static unsigned long fill_of(const char *svg, const char *name)
{
	char needle[256];
	const char *p;

	snprintf(needle, sizeof(needle), "<g><title>%s \xe2\x80\x94 ", name);
	p = strstr(svg, needle);
	assert_non_null(p);
	p = strstr(p, "fill=\"#");
	assert_non_null(p);
	return strtoul(p + 7, NULL, 16);
}

/* Well-formed UTF-8 with no control characters but tab and newline: what XML 1.0 accepts. */
static void assert_xml_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t len = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;

		if (*p < 0x20)
			assert_true(*p == '\n' || *p == '\t');
		assert_true(*p < 0x80 || (*p >= 0xc2 && *p <= 0xf4));
		for (size_t i = 1; i < len; i++)
			assert_true((p[i] & 0xc0) == 0x80);
		if (len == 2)
			assert_false(p[0] == 0xc2 && p[1] < 0xa0); /* no C1 controls */
		p += len;
	}
}

static void test_empty(void **state)
{
	struct flame *f = flame_new();
	char *s;

	assert_non_null(f);
	assert_int_equal(flame_total(f), 0);
	assert_int_equal(flame_stacks(f), 0);

	s = render(f, FOLDED, "pages");
	assert_string_equal(s, "");
	free(s);

	s = render(f, SVG, "pages");
	assert_non_null(strstr(s, "no copies recorded"));
	assert_non_null(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(s, "Copies &lt;by stack&gt;"));
	assert_null(strstr(s, "<script"));
	assert_int_equal(count_of(s, "<g><title>"), 0);
	assert_string_equal(s + strlen(s) - 7, "</svg>\n");
	free(s);

	s = render(f, SPEEDSCOPE, "pages");
	assert_string_equal(
	    s, "{\n"
	       "  \"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
	       "  \"exporter\": \"cowtrace\",\n"
	       "  \"name\": \"cow\",\n"
	       "  \"activeProfileIndex\": 0,\n"
	       "  \"shared\": {\n"
	       "    \"frames\": []\n"
	       "  },\n"
	       "  \"profiles\": [\n"
	       "    {\n"
	       "      \"type\": \"sampled\",\n"
	       "      \"name\": \"cow\",\n"
	       "      \"unit\": \"none\",\n"
	       "      \"startValue\": 0,\n"
	       "      \"endValue\": 0,\n"
	       "      \"samples\": [],\n"
	       "      \"weights\": []\n"
	       "    }\n"
	       "  ]\n"
	       "}\n");
	free(s);
	flame_free(f);
}

static void test_folded_merge_and_order(void **state)
{
	struct flame *f = flame_new();
	char *s;

	assert_int_equal(add(f, 2, "main", "b", NULL), 0);
	assert_int_equal(add(f, 1, "main", "a", "x", NULL), 0);
	assert_int_equal(add(f, 4, "main", NULL), 0);
	assert_int_equal(add(f, 3, "main", "b", NULL), 0); /* adds up with the first */
	assert_int_equal(add(f, 5, "idle", NULL), 0);
	assert_int_equal(add(f, 7, "main", "a", NULL), 0);
	assert_int_equal(add(f, 1, "main", "a b", NULL), 0);
	assert_int_equal(add(f, 0, "never", NULL), 0); /* nothing recorded */
	assert_int_equal(flame_total(f), 23);
	assert_int_equal(flame_stacks(f), 6);

	/* frame by frame: "a" and its callees before "a b" (plain sort would put "a b" first) */
	s = render(f, FOLDED, "pages");
	assert_string_equal(s, "idle 5\n"
			       "main 4\n"
			       "main;a 7\n"
			       "main;a;x 1\n"
			       "main;a b 1\n"
			       "main;b 5\n");
	free(s);

	/* the same stacks added in another order give the same text */
	flame_free(f);
	f = flame_new();
	assert_int_equal(add(f, 1, "main", "a b", NULL), 0);
	assert_int_equal(add(f, 7, "main", "a", NULL), 0);
	assert_int_equal(add(f, 5, "idle", NULL), 0);
	assert_int_equal(add(f, 5, "main", "b", NULL), 0);
	assert_int_equal(add(f, 4, "main", NULL), 0);
	assert_int_equal(add(f, 1, "main", "a", "x", NULL), 0);
	s = render(f, FOLDED, "pages");
	assert_string_equal(s, "idle 5\nmain 4\nmain;a 7\nmain;a;x 1\nmain;a b 1\nmain;b 5\n");
	free(s);
	flame_free(f);
}

static void test_folded_names_normalized(void **state)
{
	struct flame *f = flame_new();
	char *s;

	assert_int_equal(add(f, 3, "semi;colon", "new\nline\ttab\rcr", "del\x7f", "nel\xc2\x85",
			     "caf\xc3\xa9 \xe6\xbc\xa2 spaced  out", "bad\xff\xfe!", "cut\xe2\x82",
			     "nonchar\xef\xbf\xbe", NULL),
			 0);
	/* ';' becomes ':', so these two are one frame */
	assert_int_equal(add(f, 1, "x;y", NULL), 0);
	assert_int_equal(add(f, 2, "x:y", NULL), 0);
	assert_int_equal(add(f, 1, "", "x", NULL), 0); /* no empty frame in a folded line */
	assert_int_equal(flame_stacks(f), 3);
	s = render(f, FOLDED, "pages");
	assert_string_equal(
	    s, "[empty];x 1\n"
	       "semi:colon;new line tab cr;del ;nel ;caf\xc3\xa9 \xe6\xbc\xa2 spaced  "
	       "out;bad\xef\xbf\xbd\xef\xbf\xbd!;cut\xef\xbf\xbd;nonchar\xef\xbf\xbd 3\n"
	       "x:y 3\n");
	free(s);
	flame_free(f);
}

static void test_add_errors(void **state)
{
	struct flame *f = flame_new();
	const char *frames[] = {"a", NULL};
	const enum flame_class bad_class[] = {FLAME_CLASS_COUNT};
	char *s;

	assert_int_equal(flame_add(NULL, frames, 1, 1), -EINVAL);
	assert_int_equal(flame_add(f, NULL, 1, 1), -EINVAL);
	assert_int_equal(flame_add(f, frames, 0, 1), -EINVAL);
	assert_int_equal(flame_add(f, frames, 2, 1), -EINVAL); /* a NULL frame */
	assert_int_equal(flame_add_classed(f, frames, bad_class, 1, 1), -EINVAL);
	assert_int_equal(flame_total(f), 0);

	assert_int_equal(flame_add(f, frames, 1, ~0ULL - 1), 0);
	assert_int_equal(flame_add(f, frames, 1, 2), -EOVERFLOW);
	assert_true(flame_total(f) == ~0ULL - 1);
	assert_int_equal(flame_add(f, frames, 1, 1), 0);
	assert_true(flame_total(f) == ~0ULL);
	s = render(f, FOLDED, "pages");
	assert_string_equal(s, "a 18446744073709551615\n");
	free(s);

	assert_int_equal(flame_write_folded(NULL, stdout), -EINVAL);
	assert_int_equal(flame_write_folded(f, NULL), -EINVAL);
	assert_int_equal(flame_write_svg(NULL, stdout, "t", "s", "pages"), -EINVAL);
	assert_int_equal(flame_write_speedscope(f, NULL, "n", "pages"), -EINVAL);
	assert_int_equal(flame_total(NULL), 0);
	flame_free(f);
	flame_free(NULL);
}

static void test_write_errors(void **state)
{
	struct flame *f = flame_new();
	FILE *full = fopen("/dev/full", "w");

	if (!full)
		skip();
	for (int i = 0; i < 100; i++) {
		char name[32];

		snprintf(name, sizeof(name), "frame%d", i);
		assert_int_equal(add(f, i + 1, "main", name, NULL), 0);
	}
	assert_int_equal(flame_write_folded(f, full), -ENOSPC);
	clearerr(full);
	assert_true(flame_write_svg(f, full, "t", NULL, NULL) < 0);
	clearerr(full);
	assert_true(flame_write_speedscope(f, full, NULL, NULL) < 0);
	fclose(full);
	flame_free(f);
}

static void test_svg_frames_and_hover(void **state)
{
	struct flame *f = flame_new();
	char *s;

	assert_int_equal(add(f, 2, "main", "work", NULL), 0);
	assert_int_equal(add(f, 1, "main", "leaf", NULL), 0);
	assert_int_equal(add(f, 1, "other", NULL), 0);
	s = render(f, SVG, "pages");
	assert_non_null(strstr(s, "<?xml version=\"1.0\" encoding=\"UTF-8\""));
	assert_non_null(strstr(s, "<title>all \xe2\x80\x94 4 pages (100.00%)</title>"));
	assert_non_null(strstr(s, "<title>main \xe2\x80\x94 3 pages (75.00%)</title>"));
	assert_non_null(strstr(s, "<title>work \xe2\x80\x94 2 pages (50.00%)</title>"));
	assert_non_null(strstr(s, "<title>leaf \xe2\x80\x94 1 page (25.00%)</title>"));
	assert_non_null(strstr(s, "<title>other \xe2\x80\x94 1 page (25.00%)</title>"));
	assert_int_equal(count_of(s, "<g><title>"), 5);
	/* labels that fit are whole */
	assert_non_null(strstr(s, ">main</text>"));
	assert_non_null(strstr(s, "data-total=\"4\""));
	/* root at the bottom: "all" is the lowest row, "work" two rows above it */
	assert_non_null(strstr(s, "root at the bottom"));
	assert_non_null(strstr(s, "<text id=\"title\" x=\"600\" y=\"24\">Copies &lt;by stack&gt;"));
	assert_non_null(strstr(s, ">pid 42 &amp; children</text>"));
	assert_non_null(strstr(s, "Reset zoom"));
	assert_non_null(strstr(s, ">Search</text>"));
	assert_non_null(strstr(s, "<script type=\"text/ecmascript\"><![CDATA["));
	/* CDATA opened twice (style, script) and closed twice: nothing else can close one */
	assert_int_equal(count_of(s, "<![CDATA["), 2);
	assert_int_equal(count_of(s, "]]>"), 2);
	/* self-contained */
	assert_null(strstr(s, "href"));
	assert_null(strstr(s, "http://www.w3.org/1999/xlink"));
	assert_int_equal(count_of(s, "http"), 1); /* the SVG namespace, a name, not a fetch */
	assert_xml_chars(s);
	free(s);

	s = render(f, SVG, "bytes");
	assert_non_null(strstr(s, "<title>main \xe2\x80\x94 3 bytes (75.00%)</title>"));
	assert_non_null(strstr(s, "<title>leaf \xe2\x80\x94 1 byte (25.00%)</title>"));
	free(s);
	flame_free(f);
}

static void test_svg_layout(void **state)
{
	struct flame *f = flame_new();
	const char *p;
	char *s;
	double x, w;

	/* 1180 px for 4 pages: "b" starts after "a" (1 page) at 10 + 295 px and is 885 px wide */
	assert_int_equal(add(f, 1, "a", NULL), 0);
	assert_int_equal(add(f, 3, "b", "c", NULL), 0);
	s = render(f, SVG, "pages");
	assert_non_null(strstr(s, "height=\"164\"")); /* 80 + 3 rows of 16 + 36 */
	p = strstr(s, "<g><title>b \xe2\x80\x94 ");
	assert_non_null(p);
	assert_int_equal(
	    sscanf(strstr(p, "<rect"), "<rect x=\"%lf\" y=\"96\" width=\"%lf\"", &x, &w), 2);
	assert_true(x > 304.99 && x < 305.01);
	assert_true(w > 884.99 && w < 885.01);
	p = strstr(s, "<g><title>c \xe2\x80\x94 ");
	assert_non_null(p);
	assert_non_null(strstr(p, "y=\"80\"")); /* one row above b */
	p = strstr(s, "<g><title>all \xe2\x80\x94 ");
	assert_non_null(strstr(p, "<rect x=\"10\" y=\"112\" width=\"1180\""));
	/* pre-order: all, a, b, c */
	assert_true(strstr(s, "<g><title>a ") < strstr(s, "<g><title>b "));
	assert_true(strstr(s, "<g><title>b ") < strstr(s, "<g><title>c "));
	free(s);
	flame_free(f);
}

static void test_svg_escaping(void **state)
{
	struct flame *f = flame_new();
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *out;

	assert_int_equal(add(f, 5, "a<b>&\"c'd", "]]>", "</script><script>alert(1)</script>",
			     "bad\xff\x01"
			     "ctl",
			     "caf\xc3\xa9", NULL),
			 0);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(flame_write_svg(f, out, "t<&>\xfe", "s\"'\x1b", "pa<ges"), 0);
	fclose(out);
	s = buf;
	assert_non_null(strstr(s, "<title>a&lt;b&gt;&amp;&quot;c&#39;d \xe2\x80\x94 5 pa&lt;ges"));
	assert_non_null(strstr(s, "<title>]]&gt; \xe2\x80\x94 "));
	assert_non_null(strstr(s, "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; "));
	assert_non_null(strstr(s, "<title>bad\xef\xbf\xbd ctl \xe2\x80\x94 "));
	assert_non_null(strstr(s, "<title>caf\xc3\xa9 \xe2\x80\x94 "));
	assert_non_null(strstr(s, ">t&lt;&amp;&gt;\xef\xbf\xbd</text>"));
	assert_non_null(strstr(s, ">s&quot;&#39; </text>"));
	assert_non_null(strstr(s, "data-unit=\"pa&lt;ges\""));
	assert_null(strstr(s, "a<b"));
	assert_null(strstr(s, "</script><script>"));
	assert_int_equal(count_of(s, "]]>"), 2);
	assert_xml_chars(s);
	free(s);
	flame_free(f);
}

static void test_svg_label_truncation(void **state)
{
	struct flame *f = flame_new();
	char name[400], want[400], *s;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name, "\xe6\xbc\xa2", 3); /* a multi-byte start must not be cut in half */
	assert_int_equal(add(f, 1000, name, NULL), 0);
	assert_int_equal(add(f, 1, "narrow", NULL), 0);
	s = render(f, SVG, "pages");
	/* 1178.8 px: (1178.8 - 6) / 7.2 = 162 characters fit; of 397, 160 and ".." are shown */
	strcpy(want, ">\xe6\xbc\xa2");
	memset(want + 4, 'x', 159);
	strcpy(want + 4 + 159, "..</text>");
	assert_non_null(strstr(s, want));
	/* the narrow frame is 1.18 px wide: drawn, with no label, hence no <text> at all */
	assert_non_null(strstr(s, "</title><rect x=\"10\" y=\"80\" width=\"1.1788\""));
	assert_non_null(strstr(s, "width=\"1.1788\" height=\"15\" fill=\"#"));
	assert_non_null(strstr(strstr(s, "width=\"1.1788\""), "\"/></g>\n"));
	assert_true(strstr(strstr(s, "width=\"1.1788\""), "\"/></g>\n") <
		    strstr(strstr(s, "width=\"1.1788\""), "<text"));
	assert_xml_chars(s);
	free(s);
	flame_free(f);
}

static unsigned int hex_r(unsigned long c)
{
	return c >> 16;
}

static unsigned int hex_g(unsigned long c)
{
	return (c >> 8) & 0xff;
}

static unsigned int hex_b(unsigned long c)
{
	return c & 0xff;
}

static void test_svg_colors(void **state)
{
	struct flame *f = flame_new();
	const char *frames[] = {"worker python3", "refcount", "scan (app.py:12)", "dict.ma_keys"};
	const enum flame_class classes[] = {FLAME_CLASS_PROCESS, FLAME_CLASS_CAUSE,
					    FLAME_CLASS_PYTHON, FLAME_CLASS_OBJECT};
	const char *plain[] = {"scan (app.py:12)"};
	unsigned long c;
	char *s, *again;

	assert_int_equal(flame_add_classed(f, frames, classes, 4, 10), 0);
	assert_int_equal(flame_add(f, plain, 1, 10), 0); /* AUTO: the same warm shade */
	s = render(f, SVG, "pages");

	c = fill_of(s, "refcount"); /* blue */
	assert_true(hex_b(c) > hex_r(c) + 60 && hex_b(c) > hex_g(c));
	c = fill_of(s, "dict.ma_keys"); /* green */
	assert_true(hex_g(c) > hex_r(c) && hex_g(c) > hex_b(c));
	c = fill_of(s, "worker python3"); /* blue-grey: little saturation */
	assert_true(hex_b(c) >= hex_r(c) && hex_b(c) - hex_r(c) < 60);
	c = fill_of(s, "scan (app.py:12)"); /* warm */
	assert_true(hex_r(c) > 200 && hex_r(c) > hex_b(c) + 100 && hex_g(c) <= hex_r(c));
	assert_int_equal(count_of(s, "fill=\"#e040e0\""), 0); /* the search color is nobody's */

	/* deterministic: the same graph twice is the same text */
	again = render(f, SVG, "pages");
	assert_string_equal(s, again);
	free(again);
	free(s);
	flame_free(f);
}

static void test_speedscope_exact(void **state)
{
	struct flame *f = flame_new();
	char *s;

	assert_int_equal(add(f, 2, "main", "b\"q", NULL), 0);
	assert_int_equal(add(f, 1, "main", "a", NULL), 0);
	assert_int_equal(add(f, 4, "main", NULL), 0);
	assert_int_equal(add(f, 8, "a", NULL), 0);
	s = render(f, SPEEDSCOPE, "bytes");
	/* frames in order of first use along the folded order: a, main, (a again), b"q */
	assert_string_equal(
	    s, "{\n"
	       "  \"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
	       "  \"exporter\": \"cowtrace\",\n"
	       "  \"name\": \"cow\",\n"
	       "  \"activeProfileIndex\": 0,\n"
	       "  \"shared\": {\n"
	       "    \"frames\": [\n"
	       "      {\n"
	       "        \"name\": \"a\"\n"
	       "      },\n"
	       "      {\n"
	       "        \"name\": \"main\"\n"
	       "      },\n"
	       "      {\n"
	       "        \"name\": \"b\\\"q\"\n"
	       "      }\n"
	       "    ]\n"
	       "  },\n"
	       "  \"profiles\": [\n"
	       "    {\n"
	       "      \"type\": \"sampled\",\n"
	       "      \"name\": \"cow\",\n"
	       "      \"unit\": \"bytes\",\n"
	       "      \"startValue\": 0,\n"
	       "      \"endValue\": 15,\n"
	       "      \"samples\": [\n"
	       "        [\n"
	       "          0\n"
	       "        ],\n"
	       "        [\n"
	       "          1\n"
	       "        ],\n"
	       "        [\n"
	       "          1,\n"
	       "          0\n"
	       "        ],\n"
	       "        [\n"
	       "          1,\n"
	       "          2\n"
	       "        ]\n"
	       "      ],\n"
	       "      \"weights\": [\n"
	       "        8,\n"
	       "        4,\n"
	       "        1,\n"
	       "        2\n"
	       "      ]\n"
	       "    }\n"
	       "  ]\n"
	       "}\n");
	free(s);
	flame_free(f);
}

/* A deterministic pseudo-random generator: the same 100k stacks on every run. */
static uint32_t lcg(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

static void test_many_stacks(void **state)
{
	static const char *roles[] = {"root python3", "worker python3", "worker gunicorn"};
	static const char *causes[] = {"refcount", "gc gen0", "gc gen2", "write"};
	struct flame *f = flame_new();
	unsigned long long sum = 0, total = 0;
	uint64_t seed = 42;
	size_t lines = 0, frames_drawn;
	char fn[500][32], leaf[32], *s, *line;
	const char *stack[20];

	for (int i = 0; i < 500; i++)
		snprintf(fn[i], sizeof(fn[i]), "func_%d (mod%d.py:%d)", i, i % 17, i * 3 + 1);
	for (int i = 0; i < 100000; i++) {
		size_t n = 0, depth = 3 + lcg(&seed) % 12;
		unsigned long long count = 1 + lcg(&seed) % 1000;

		stack[n++] = roles[lcg(&seed) % 3];
		stack[n++] = causes[lcg(&seed) % 4];
		for (size_t d = 0; d < depth; d++)
			stack[n++] = fn[lcg(&seed) % 500];
		snprintf(leaf, sizeof(leaf), "obj_%06d.field", i); /* every stack distinct */
		stack[n++] = leaf;
		assert_int_equal(flame_add(f, stack, n, count), 0);
		total += count;
	}
	assert_int_equal(flame_stacks(f), 100000);
	assert_true(flame_total(f) == total);

	s = render(f, FOLDED, "pages");
	for (line = s; *line; line = strchr(line, '\n') + 1) {
		const char *space = strchr(line, '\n');

		while (space > line && *space != ' ')
			space--;
		sum += strtoull(space + 1, NULL, 10);
		lines++;
	}
	assert_int_equal(lines, 100000);
	assert_true(sum == total);
	free(s);

	/*
	 * Per row the drawn frames are at least 0.1 px of 1180 px: at most 11800 a row, 17 rows
	 * and "all". Each frame is under 250 bytes here (names of at most 30 bytes, twice).
	 */
	s = render(f, SVG, "pages");
	frames_drawn = count_of(s, "<g><title>");
	assert_true(frames_drawn > 1000);
	assert_true(frames_drawn <= 17 * 11800 + 1);
	assert_true(strlen(s) < frames_drawn * 250 + 20000);
	assert_xml_chars(s);
	free(s);

	s = render(f, SPEEDSCOPE, "pages");
	assert_int_equal(count_of(s, "\"name\": \"obj_"), 100000);
	free(s);
	flame_free(f);
}

static void test_deep_stack(void **state)
{
	struct flame *f = flame_new();
	const char *stack[500];
	char names[500][32], *s, *p;
	int height;

	for (int i = 0; i < 500; i++) {
		snprintf(names[i], sizeof(names[i]), "recurse%d", i);
		stack[i] = names[i];
	}
	assert_int_equal(flame_add(f, stack, 500, 1), 0);
	assert_int_equal(add(f, 1, "shallow", "x", "y", NULL), 0);

	s = render(f, FOLDED, "pages");
	p = strchr(s, '\n');
	assert_int_equal(count_of(s, ";"), 499 + 2);
	assert_true(p && !strncmp(p - 12, "recurse499 1", 12));
	assert_non_null(strstr(s, "recurse0;recurse1;recurse2;"));
	free(s);

	s = render(f, SVG, "pages");
	assert_int_equal(count_of(s, "<g><title>"), 1 + 500 + 3);
	p = strstr(s, "height=\"");
	assert_non_null(p);
	height = atoi(p + 8);
	assert_int_equal(height, 80 + 501 * 16 + 36); /* grows with the stack */
	assert_non_null(strstr(s, "<title>recurse499 \xe2\x80\x94 1 page (50.00%)</title>"));
	free(s);

	s = render(f, SPEEDSCOPE, "pages");
	assert_non_null(strstr(s, "\"name\": \"recurse499\""));
	free(s);
	flame_free(f);
}

/* ------------------------------------------------------------------------------------------ */
/* Samples for the end-to-end render test */

static int write_file(const char *dir, const char *file, const struct flame *f, enum format fmt)
{
	char path[4096];
	FILE *out;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	out = fopen(path, "w");
	if (!out) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	switch (fmt) {
	case FOLDED:
		err = flame_write_folded(f, out);
		break;
	case SVG:
		err = flame_write_svg(f, out, "cowtrace: copy-on-write page copies by Python stack",
				      "sample data from tests/unit/test_flamegraph.c \xe2\x80\x94 "
				      "1,234 pages <in> 3 processes & \"quotes\"",
				      "pages");
		break;
	case SPEEDSCOPE:
		err = flame_write_speedscope(f, out, "cowtrace sample", "pages");
		break;
	}
	if (fclose(out) && !err)
		err = -errno;
	if (err)
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
	return err;
}

static struct flame *sample_graph(void)
{
	/* short names, so that each stack's classes line up under it */
	const enum flame_class P = FLAME_CLASS_PROCESS, C = FLAME_CLASS_CAUSE,
			       Y = FLAME_CLASS_PYTHON, O = FLAME_CLASS_OBJECT,
			       N = FLAME_CLASS_NATIVE, M = FLAME_CLASS_MARK;
	const struct {
		unsigned long long count;
		const char *frames[10];
		enum flame_class classes[10];
	} stacks[] = {
	    {420,
	     {"worker python3", "refcount", "<module> (server.py:88)", "serve (server.py:61)",
	      "handle_request (server.py:40)", "scan_shared (server.py:17)", "dict.ma_keys"},
	     {P, C, Y, Y, Y, Y, O}},
	    {260,
	     {"worker python3", "refcount", "<module> (server.py:88)", "serve (server.py:61)",
	      "handle_request (server.py:40)", "scan_shared (server.py:18)", "PyObject.ob_refcnt"},
	     {P, C, Y, Y, Y, Y, O}},
	    {75,
	     {"worker python3", "refcount", "<module> (server.py:88)", "serve (server.py:61)",
	      "render (views.py:9)", "PyObject.ob_refcnt"},
	     {P, C, Y, Y, Y, O}},
	    {180,
	     {"worker python3", "gc gen2", "<module> (server.py:88)", "serve (server.py:61)",
	      "build_index (index.py:31)", "gc_collect_main", "list.ob_item"},
	     {P, C, Y, Y, Y, N, O}},
	    {95,
	     {"worker python3", "gc gen0", "<module> (server.py:88)", "serve (server.py:61)",
	      "build_index (index.py:33)", "PyGC_Head._gc_next"},
	     {P, C, Y, Y, Y, O}},
	    {40,
	     {"root python3", "write", "<module> (server.py:88)", "preload (server.py:12)",
	      "bytearray.ob_bytes"},
	     {P, C, Y, Y, O}},
	    {30,
	     {"worker python3", "refcount", "<module> (server.py:88)", "serve (server.py:61)",
	      "a<b>&\"c'd (odd\xff.py:1)", "semi;colon\tand\nnewline", "caf\xc3\xa9 \xe6\xbc\xa2",
	      "]]></script>"},
	     {P, C, Y, Y, Y, Y, Y, O}},
	    {12,
	     {"worker python3", "refcount", "<module> (server.py:88)", "deep (rec.py:3)",
	      "deep (rec.py:3)", "[truncated]", "tuple.ob_item"},
	     {P, C, Y, Y, Y, M, O}},
	    {8, {"worker python3", "unknown"}, {P, C}},
	};
	struct flame *f = flame_new();

	if (!f)
		return NULL;
	for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) {
		size_t n = 0;

		while (n < 10 && stacks[i].frames[n])
			n++;
		if (flame_add_classed(f, stacks[i].frames, stacks[i].classes, n, stacks[i].count)) {
			flame_free(f);
			return NULL;
		}
	}
	return f;
}

static int write_samples(const char *dir)
{
	struct flame *f = sample_graph(), *empty = flame_new(), *deep = flame_new();
	char names[500][40], path[4096];
	const char *stack[500];
	int err = -ENOMEM;
	FILE *out;

	if (!f || !empty || !deep)
		goto out;
	for (int i = 0; i < 500; i++) {
		snprintf(names[i], sizeof(names[i]), "recurse (rec.py:%d)", i + 1);
		stack[i] = names[i];
	}
	err = flame_add(deep, stack, 500, 7);
	if (!err)
		err = flame_add(deep, stack, 3, 2);
	if (!err)
		err = write_file(dir, "sample.svg", f, SVG);
	if (!err)
		err = write_file(dir, "sample.folded", f, FOLDED);
	if (!err)
		err = write_file(dir, "sample.speedscope.json", f, SPEEDSCOPE);
	if (!err)
		err = write_file(dir, "sample-empty.svg", empty, SVG);
	if (!err)
		err = write_file(dir, "sample-deep.svg", deep, SVG);
	if (err)
		goto out;
	snprintf(path, sizeof(path), "%s/sample.total", dir);
	out = fopen(path, "w");
	if (!out || fprintf(out, "%llu\n", flame_total(f)) < 0 || fclose(out)) {
		err = -EIO;
		fprintf(stderr, "%s: cannot write\n", path);
	}
out:
	flame_free(f);
	flame_free(empty);
	flame_free(deep);
	return err;
}

int main(void)
{
	const char *dir = getenv("FLAMEGRAPH_SAMPLE_DIR");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_folded_merge_and_order),
	    cmocka_unit_test(test_folded_names_normalized),
	    cmocka_unit_test(test_add_errors),
	    cmocka_unit_test(test_write_errors),
	    cmocka_unit_test(test_svg_frames_and_hover),
	    cmocka_unit_test(test_svg_layout),
	    cmocka_unit_test(test_svg_escaping),
	    cmocka_unit_test(test_svg_label_truncation),
	    cmocka_unit_test(test_svg_colors),
	    cmocka_unit_test(test_speedscope_exact),
	    cmocka_unit_test(test_many_stacks),
	    cmocka_unit_test(test_deep_stack),
	};

	if (dir && *dir) {
		int err = write_samples(dir);

		if (!err)
			printf("flamegraph samples written to %s\n", dir);
		return err ? 1 : 0;
	}
	return cmocka_run_group_tests_name("flamegraph", tests, NULL, NULL);
}
