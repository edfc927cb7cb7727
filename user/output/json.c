// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Streaming JSON writer: pretty output, commas, escaping and UTF-8 repair (see json.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

struct json_frame {
	bool is_object;
	bool have_key; /* objects: a key was written and waits for its value */
	size_t count;  /* members or elements written so far */
};

struct json_writer {
	FILE *f;
	int err;
	bool done; /* the top-level value is complete */
	int depth;
	struct json_frame stack[JSON_MAX_DEPTH];
};

struct json_writer *json_writer_new(FILE *f)
{
	struct json_writer *w;

	if (!f)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (w)
		w->f = f;
	return w;
}

void json_writer_free(struct json_writer *w)
{
	free(w);
}

int json_writer_error(const struct json_writer *w)
{
	if (!w)
		return -EINVAL;
	if (w->err)
		return w->err;
	return ferror(w->f) ? -EIO : 0;
}

static void set_error(struct json_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->err || !n)
		return;
	errno = 0;
	if (fwrite(s, 1, n, w->f) != n)
		set_error(w, errno ? -errno : -EIO);
}

static void puts_(struct json_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* A new line indented for the given depth. */
static void newline(struct json_writer *w, int depth)
{
	static const char spaces[] =
	    "                                                                ";

	put(w, "\n", 1);
	for (int n = depth * 2; n > 0 && !w->err; n -= (int)sizeof(spaces) - 1)
		put(w, spaces, n < (int)sizeof(spaces) - 1 ? (size_t)n : sizeof(spaces) - 1);
}

static void put_escaped(struct json_writer *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *run = s; /* bytes that need no escaping, written in one go */
	char esc[8];
	size_t len, skip;
	uint32_t cp;

	put(w, "\"", 1);
	while (*s) {
		const char *e = NULL;

		switch (*s) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *s);
				e = esc;
			}
		}
		if (e) {
			put(w, (const char *)run, s - run);
			puts_(w, e);
			run = ++s;
			continue;
		}
		len = utf8_decode(s, &cp, &skip);
		if (len) {
			s += len;
			continue;
		}
		put(w, (const char *)run, s - run);
		puts_(w, "\\ufffd");
		s += skip;
		run = s;
	}
	put(w, (const char *)run, s - run);
	put(w, "\"", 1);
}

/* Checks that a value may come now and writes what goes before it. */
static bool begin_value(struct json_writer *w)
{
	struct json_frame *top;

	if (w->err)
		return false;
	if (!w->depth) {
		if (w->done) {
			set_error(w, -EINVAL); /* a second document would not be JSON */
			return false;
		}
		return true;
	}
	top = &w->stack[w->depth - 1];
	if (top->is_object) {
		if (!top->have_key) {
			set_error(w, -EINVAL);
			return false;
		}
		top->have_key = false;
		return true;
	}
	if (top->count++)
		put(w, ",", 1);
	newline(w, w->depth);
	return !w->err;
}

static void end_value(struct json_writer *w)
{
	if (!w->depth)
		w->done = true;
}

static void scalar(struct json_writer *w, const char *text)
{
	if (!w || !begin_value(w))
		return;
	puts_(w, text);
	end_value(w);
}

static void begin(struct json_writer *w, bool is_object)
{
	if (!w || w->err)
		return;
	if (w->depth == JSON_MAX_DEPTH) {
		set_error(w, -E2BIG);
		return;
	}
	if (!begin_value(w))
		return;
	put(w, is_object ? "{" : "[", 1);
	w->stack[w->depth++] = (struct json_frame){.is_object = is_object};
}

static void end(struct json_writer *w, bool is_object)
{
	struct json_frame *top;

	if (!w || w->err)
		return;
	if (!w->depth) {
		set_error(w, -EINVAL);
		return;
	}
	top = &w->stack[w->depth - 1];
	if (top->is_object != is_object || top->have_key) {
		set_error(w, -EINVAL);
		return;
	}
	w->depth--;
	if (top->count)
		newline(w, w->depth);
	put(w, is_object ? "}" : "]", 1);
	end_value(w);
}

void json_begin_object(struct json_writer *w)
{
	begin(w, true);
}

void json_end_object(struct json_writer *w)
{
	end(w, true);
}

void json_begin_array(struct json_writer *w)
{
	begin(w, false);
}

void json_end_array(struct json_writer *w)
{
	end(w, false);
}

void json_key(struct json_writer *w, const char *key)
{
	struct json_frame *top;

	if (!w || w->err)
		return;
	top = w->depth ? &w->stack[w->depth - 1] : NULL;
	if (!key || !top || !top->is_object || top->have_key) {
		set_error(w, -EINVAL);
		return;
	}
	if (top->count++)
		put(w, ",", 1);
	newline(w, w->depth);
	put_escaped(w, key);
	put(w, ": ", 2);
	top->have_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	if (!w || !begin_value(w))
		return;
	put_escaped(w, s);
	end_value(w);
}

void json_uint(struct json_writer *w, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	scalar(w, buf);
}

void json_int(struct json_writer *w, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	scalar(w, buf);
}

void json_double(struct json_writer *w, double v, int decimals)
{
	char buf[400]; /* DBL_MAX has 309 integer digits */

	if (!isfinite(v)) {
		scalar(w, "null");
		return;
	}
	if (decimals < 0)
		decimals = 0;
	if (decimals > 17)
		decimals = 17;
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	/* A locale with a decimal comma must not leak into JSON. */
	for (char *c = buf; *c; c++) {
		if (*c == ',')
			*c = '.';
	}
	scalar(w, buf);
}

void json_bool(struct json_writer *w, bool v)
{
	scalar(w, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	scalar(w, "null");
}

void json_member_string(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void json_member_uint(struct json_writer *w, const char *key, unsigned long long v)
{
	json_key(w, key);
	json_uint(w, v);
}

void json_member_int(struct json_writer *w, const char *key, long long v)
{
	json_key(w, key);
	json_int(w, v);
}

void json_member_double(struct json_writer *w, const char *key, double v, int decimals)
{
	json_key(w, key);
	json_double(w, v, decimals);
}

void json_member_bool(struct json_writer *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}

struct json_writer *json_document_begin(FILE *f)
{
	struct json_writer *w = json_writer_new(f);

	if (!w)
		return NULL;
	json_begin_object(w);
	json_member_string(w, "tool", "cowtrace");
	return w;
}

int json_document_end(struct json_writer *w, FILE *f)
{
	int err;

	json_end_object(w);
	err = json_writer_error(w);
	json_writer_free(w);
	if (!err && (fputc('\n', f) == EOF || fflush(f)))
		err = -errno;
	return err;
}
