// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A small streaming JSON writer for the --json report: pretty-printed with two-space indentation,
 * commas placed by the writer, strings escaped, and bytes that are not valid UTF-8 replaced by
 * \ufffd (command lines of other processes are arbitrary bytes).
 *
 * Misuse (a value without a key inside an object, a key inside an array, an end without a begin,
 * nesting deeper than JSON_MAX_DEPTH, a second top-level value) records -EINVAL (-E2BIG for depth)
 * and makes every later call a no-op, so the output is a clean prefix rather than broken JSON.
 * The first write error is recorded the same way. Nothing follows the top-level value, not even a
 * newline: that is the caller's to add (or not).
 */
#ifndef COWTRACE_JSON_H
#define COWTRACE_JSON_H

#include <stdbool.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 64

struct json_writer;

/* NULL when f is NULL or memory is short. The writer does not own f. */
struct json_writer *json_writer_new(FILE *f);
void json_writer_free(struct json_writer *w);

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);

/* Inside objects, before each value. */
void json_key(struct json_writer *w, const char *key);

/* NULL writes null. */
void json_string(struct json_writer *w, const char *s);
void json_uint(struct json_writer *w, unsigned long long v);
void json_int(struct json_writer *w, long long v);
/* decimals digits after the point (clamped to 0..17); NaN and infinities write null. */
void json_double(struct json_writer *w, double v, int decimals);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/*
 * Inside objects, a member whose value is a scalar: json_key() and the value writer above in one
 * call, with the same arguments, output and misuse rules. json_key() stays for a member whose
 * value is an object or an array, or one of two writers chosen at run time.
 */
void json_member_string(struct json_writer *w, const char *key, const char *s);
void json_member_uint(struct json_writer *w, const char *key, unsigned long long v);
void json_member_int(struct json_writer *w, const char *key, long long v);
void json_member_double(struct json_writer *w, const char *key, double v, int decimals);
void json_member_bool(struct json_writer *w, const char *key, bool v);

/* 0, or -errno of the first write error or misuse (-EIO if the stream has failed unseen). */
int json_writer_error(const struct json_writer *w);

/*
 * A cowtrace document (a report, a diff): its writer with the object opened and "tool":
 * "cowtrace" written (NULL when memory is short); and its end: the object closed, a newline,
 * the stream flushed, the writer freed. 0, or -errno of the first error.
 */
struct json_writer *json_document_begin(FILE *f);
int json_document_end(struct json_writer *w, FILE *f);

#endif /* COWTRACE_JSON_H */
