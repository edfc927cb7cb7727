// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "cowtrace.h"
#include "pylayout.h"
#include "pylines.h"
#include "pystacks.h"
#include "hindex.h"
#include "sumtab.h"

#define CODE_READ_MAX	 512	   /* no PyCodeObject header of 3.8-3.14 is larger */
#define LINETABLE_MAX	 (1 << 16) /* bytes of a line table we are willing to read */
#define NAME_MAX_LEN	 128
#define FILENAME_MAX_LEN 512
/* code objects cached before the cache starts over rather than grow without bound; its index
 * has twice as many slots, so that it never grows */
#define CODES_MAX	 512
#define STACKS_FIRST_CAP 1024 /* stack index slots to start with */

struct code_info {
	unsigned int family;
	__u64 code;
	char key_name[COW_NAME_CHARS]; /* what BPF saw of the name with this code pointer */
	bool valid;
	char name[NAME_MAX_LEN];
	char filename[FILENAME_MAX_LEN];
	int firstlineno;
	unsigned char *linetable;
	size_t linetable_len;
	/* what the names were read from: a code object freed and another allocated at the same
	 * address shows different pointers here, and is read again */
	__u64 name_ptr, filename_ptr, linetable_ptr;
};

struct stack_entry {
	unsigned int family;
	__u64 id;
	struct pystack *stack; /* its own allocation: callers keep the pointer while stacks grows */
};

struct pystacks {
	int stacks_fd;
	struct code_info *codes; /* CODES_MAX of them, ncodes in use */
	size_t ncodes;
	struct hindex code_index;   /* code_hash() -> codes */
	struct stack_entry *stacks; /* in the order named */
	size_t nstacks, capstacks;
	struct hindex stack_index; /* hindex_hash_key() -> stacks */
};

struct pystacks *pystacks_new(int stacks_fd)
{
	struct pystacks *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->stacks_fd = stacks_fd;
	ps->codes = calloc(CODES_MAX, sizeof(*ps->codes));
	if (!ps->codes || !hindex_init(&ps->code_index, 2 * CODES_MAX) ||
	    !hindex_init(&ps->stack_index, STACKS_FIRST_CAP)) {
		pystacks_free(ps);
		return NULL;
	}
	return ps;
}

static void free_stack(struct pystack *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->frames[i]);
	free(s->frames);
}

void pystacks_free(struct pystacks *ps)
{
	size_t i;

	if (!ps)
		return;
	for (i = 0; i < ps->ncodes; i++)
		free(ps->codes[i].linetable);
	for (i = 0; i < ps->nstacks; i++) {
		free_stack(ps->stacks[i].stack);
		free(ps->stacks[i].stack);
	}
	free(ps->codes);
	free(ps->stacks);
	hindex_free(&ps->code_index);
	hindex_free(&ps->stack_index);
	free(ps);
}

static __u64 code_hash(unsigned int family, __u64 code, const char *name)
{
	__u64 h = 0;
	size_t i;

	/* all COW_NAME_CHARS bytes, as BPF read them (past a short name's NUL too) */
	for (i = 0; i < COW_NAME_CHARS; i++)
		h = sumtab_hash_u64(h, (unsigned char)name[i]);
	return hindex_hash_key(family, code ^ h);
}

/* ---- reading the target's objects --------------------------------------------------------- */

/* an object pointer: in user space (py_user_ptr) and 8-aligned */
static bool user_ptr(__u64 p)
{
	return py_user_ptr(p) && !(p & 7);
}

/* A compact ASCII str: the only kind co_name, co_qualname and co_filename are in practice. */
static bool read_ascii(const struct py_frame_offsets *off, const struct mem_reader *r, __u64 p,
		       char *buf, size_t len)
{
	__u64 length = 0;
	__u32 state = 0;
	size_t i;

	if (!user_ptr(p) || r->read(r->ctx, p + off->unicode_length, &length, sizeof(length)) ||
	    r->read(r->ctx, p + off->unicode_state, &state, sizeof(state)))
		return false;
	if (!(state & PY_UNICODE_STATE_COMPACT) || !(state & PY_UNICODE_STATE_ASCII) ||
	    length >= len || length == 0)
		return false;
	if (r->read(r->ctx, p + off->unicode_ascii_data, buf, length))
		return false;
	buf[length] = '\0';
	for (i = 0; i < length; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			return false;
	return true;
}

static unsigned char *read_bytes(const struct py_frame_offsets *off, const struct mem_reader *r,
				 __u64 p, size_t *len)
{
	__u64 size = 0;
	unsigned char *buf;

	if (!user_ptr(p) || r->read(r->ctx, p + off->bytes_size, &size, sizeof(size)) ||
	    size > LINETABLE_MAX)
		return NULL;
	buf = malloc(size ? size : 1);
	if (!buf)
		return NULL;
	if (size && r->read(r->ctx, p + off->bytes_data, buf, size)) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

static __u64 field_ptr(const unsigned char *obj, int field)
{
	__u64 v;

	if (field < 0 || field + sizeof(v) > CODE_READ_MAX)
		return 0;
	memcpy(&v, obj + field, sizeof(v));
	return v;
}

/* Is p a code object? Its type must be named "code" (read from the type's tp_name). */
static bool is_code(const struct py_frame_offsets *off, const struct mem_reader *r,
		    const unsigned char *obj)
{
	__u64 type = field_ptr(obj, off->object_type), name = 0;
	char buf[8];

	if (off->type_name < 0 || !user_ptr(type) ||
	    r->read(r->ctx, type + off->type_name, &name, sizeof(name)) || !name ||
	    r->read(r->ctx, name, buf, 5))
		return false;
	return !memcmp(buf, "code", 5);
}

/* Does name begin as BPF read it? BPF read COW_NAME_CHARS bytes from the string's characters:
 * up to its terminating NUL they are the name, after it whatever follows in memory. */
static bool same_name_start(const char *name, const char *seen)
{
	size_t i;

	for (i = 0; i < COW_NAME_CHARS; i++) {
		if (name[i] != seen[i])
			return false;
		if (!name[i])
			return true;
	}
	return true;
}

static int code_read_size(const struct py_frame_offsets *off)
{
	return off->code_size > 0 && off->code_size <= CODE_READ_MAX ? off->code_size
								      : CODE_READ_MAX;
}

static __u64 name_field(const struct py_frame_offsets *off)
{
	return off->code_qualname > 0 ? off->code_qualname : off->code_name;
}

/* Is the cached entry still the object at its address? */
static bool code_still(const struct py_frame_offsets *off, const struct mem_reader *r,
		       const struct code_info *c)
{
	unsigned char obj[CODE_READ_MAX] = {0}; /* fields past a short read are 0 */

	if (r->read(r->ctx, c->code, obj, code_read_size(off)))
		return true; /* unreadable now (the process is gone): keep what was read */
	return is_code(off, r, obj) && field_ptr(obj, name_field(off)) == c->name_ptr &&
	       field_ptr(obj, off->code_filename) == c->filename_ptr &&
	       field_ptr(obj, off->code_linetable) == c->linetable_ptr;
}

static void load_code(const struct py_frame_offsets *off, const struct mem_reader *r,
		      struct code_info *c)
{
	unsigned char obj[CODE_READ_MAX] = {0}; /* fields past a short read are 0 */
	int size = code_read_size(off);
	__s32 first;

	c->valid = false;
	free(c->linetable);
	c->linetable = NULL;
	c->linetable_len = 0;
	if (!user_ptr(c->code) || r->read(r->ctx, c->code, obj, size) || !is_code(off, r, obj))
		return;
	c->name_ptr = field_ptr(obj, name_field(off));

	c->filename_ptr = field_ptr(obj, off->code_filename);
	c->linetable_ptr = field_ptr(obj, off->code_linetable);
	if (!read_ascii(off, r,
			field_ptr(obj, off->code_qualname > 0 ? off->code_qualname : off->code_name),
			c->name, sizeof(c->name)))
		return;
	/* not the code object BPF saw at the copy (freed and replaced since): unknown */
	if (!same_name_start(c->name, c->key_name))
		return;
	if (!read_ascii(off, r, field_ptr(obj, off->code_filename), c->filename,
			sizeof(c->filename)))
		snprintf(c->filename, sizeof(c->filename), "?");
	if (off->code_firstlineno < 0 || off->code_firstlineno + 4 > size)
		return;
	memcpy(&first, obj + off->code_firstlineno, sizeof(first));
	c->firstlineno = first;
	c->linetable = read_bytes(off, r, field_ptr(obj, off->code_linetable), &c->linetable_len);
	c->valid = true;
}

static struct code_info *code_get(struct pystacks *ps, const struct py_frame_offsets *off,
				  unsigned int family, __u64 code, const char *name,
				  const struct mem_reader *r)
{
	__u64 h = code_hash(family, code, name);
	struct code_info *c;
	size_t at;
	uint32_t i;

	if (ps->ncodes == CODES_MAX) {
		/* full: start over rather than grow without bound */
		for (i = 0; i < ps->ncodes; i++)
			free(ps->codes[i].linetable);
		ps->ncodes = 0;
		hindex_clear(&ps->code_index);
	}
	for (i = hindex_first(&ps->code_index, h, &at); i != HINDEX_NONE;
	     i = hindex_next(&ps->code_index, h, &at)) {
		c = &ps->codes[i];
		/* BPF saw the name pointer at the copy: another one is another code object
		 * (freed, and a new one made at the same address) */
		if (c->family != family || c->code != code ||
		    memcmp(c->key_name, name, COW_NAME_CHARS))
			continue;
		/* asked for by a new stack: check that the address still holds this code */
		if (!c->valid || !code_still(off, r, c))
			load_code(off, r, c);
		return c;
	}
	c = &ps->codes[ps->ncodes];
	*c = (struct code_info){.family = family, .code = code};
	memcpy(c->key_name, name, COW_NAME_CHARS);
	/* cannot fail: at most CODES_MAX entries in 2 * CODES_MAX slots is never more than half
	 * full, so the index never grows and allocates nothing */
	hindex_add(&ps->code_index, h, ps->ncodes++, at);
	load_code(off, r, c);
	return c;
}

static int format_frame(char *buf, size_t len, const char *qualname, const char *filename,
			int line)
{
	if (line > 0)
		return snprintf(buf, len, "%s (%s:%d)", qualname, filename, line);
	return snprintf(buf, len, "%s (%s)", qualname, filename);
}

/*
 * 3.13 runs a class's __init__ under a shim frame whose code object is _Py_InitCleanup
 * (Python/specialize.c: name and file "__init__"); its instruction is before the code's first
 * traceable one, so CPython's tracebacks and sys._getframe() skip it. So do we.
 */
static bool is_init_shim(const struct py_frame_offsets *off, const struct code_info *c)
{
	return off->major == 3 && off->minor >= 13 && c->valid && !strcmp(c->name, "__init__") &&
	       !strcmp(c->filename, "__init__");
}

static char *frame_name(const struct py_frame_offsets *off, const struct code_info *c,
			__u64 instr)
{
	char buf[NAME_MAX_LEN + FILENAME_MAX_LEN + 32];
	long long offset;
	int line = -1;

	if (!c->valid)
		return strdup("?");
	if (off->frame_lasti >= 0) {
		/* f_lasti, an int: -1 before the first instruction. Anything else is not a frame's
		 * (and would overflow the product): no line. */
		__s64 lasti = (__s64)instr;

		if (lasti >= INT_MIN && lasti <= INT_MAX)
			offset = lasti * (off->lasti_unit > 0 ? off->lasti_unit : 1);
		else
			offset = LLONG_MAX;
	} else {
		offset = (long long)(instr - (c->code + off->code_adaptive));
	}
	if (c->linetable && offset >= 0 && offset < (1LL << 30))
		line = py_code_line(off->major, off->minor, c->linetable, c->linetable_len,
				    c->firstlineno, (int)offset);
	if (line <= 0 && offset < 0)
		line = c->firstlineno;
	format_frame(buf, sizeof(buf), c->name, c->filename, line);
	return strdup(buf);
}

/*
 * Reads stack id from the BPF map and names its frames: the first time a stack is asked for (h
 * and at: its hash and the cursor of its failed lookup, for hindex_add()).
 * Out of line, so that its frame (a struct cow_stack is over 2 KB) and its many live values
 * cost nothing to the lookup in pystacks_get(), which runs for every copy with a stack.
 */
static __attribute__((noinline)) const struct pystack *
name_stack(struct pystacks *ps, const struct py_frame_offsets *off, unsigned int family, __u64 id,
	   const struct mem_reader *r, __u64 h, size_t at)
{
	struct cow_stack raw;
	struct pystack *s;
	size_t i, k, n;

	if (ps->nstacks == ps->capstacks) {
		size_t cap = ps->capstacks ? 2 * ps->capstacks : STACKS_FIRST_CAP / 2;
		struct stack_entry *more = realloc(ps->stacks, cap * sizeof(*more));

		if (!more)
			return NULL;
		ps->stacks = more;
		ps->capstacks = cap;
	}
	if (bpf_map_lookup_elem(ps->stacks_fd, &id, &raw))
		return NULL;
	n = raw.depth < COW_STACK_MAX ? raw.depth : COW_STACK_MAX;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->frames = calloc(n ? n : 1, sizeof(char *));
	if (!s->frames) {
		free(s);
		return NULL;
	}
	s->truncated = raw.flags & COW_STACK_TRUNCATED;
	/* BPF records the innermost frame first; names go outermost first */
	for (i = 0, k = 0; i < n; i++) {
		struct code_info *c =
			code_get(ps, off, family, raw.code[n - 1 - i], raw.name[n - 1 - i], r);

		if (is_init_shim(off, c))
			continue;
		s->frames[k] = frame_name(off, c, raw.instr[n - 1 - i]);
		if (!s->frames[k])
			s->frames[k] = strdup("?");
		k++;
	}
	s->n = k;
	if (!hindex_add(&ps->stack_index, h, ps->nstacks, at)) {
		free_stack(s);
		free(s);
		return NULL;
	}
	ps->stacks[ps->nstacks++] = (struct stack_entry){.family = family, .id = id, .stack = s};
	return s;
}

const struct pystack *pystacks_get(struct pystacks *ps, const struct py_frame_offsets *off,
				   unsigned int family, __u64 id, const struct mem_reader *r)
{
	__u64 h = hindex_hash_key(family, id);
	size_t at;
	uint32_t i;

	if (!id || !off)
		return NULL;
	for (i = hindex_first(&ps->stack_index, h, &at); i != HINDEX_NONE;
	     i = hindex_next(&ps->stack_index, h, &at))
		if (ps->stacks[i].family == family && ps->stacks[i].id == id)
			return ps->stacks[i].stack;
	return name_stack(ps, off, family, id, r, h, at);
}
