// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Parser and evaluator for the --fail-on staging gate (grammar in gate.h).
 *
 * A hand-written lexer feeds a recursive-descent parser; 'and' and 'or' chains are n-ary nodes, so
 * recursion depth grows only with parentheses, which are bounded.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"

enum gate_op { OP_GT, OP_GE, OP_LT, OP_LE, OP_EQ, OP_NE };

static const char *const op_text[] = {
    [OP_GT] = ">", [OP_GE] = ">=", [OP_LT] = "<", [OP_LE] = "<=", [OP_EQ] = "==", [OP_NE] = "!=",
};

enum node_type { NODE_CMP, NODE_AND, NODE_OR };

struct gate_node {
	enum node_type type;
	/* NODE_CMP: "name op number", always stored with the name on the left */
	char *name;
	enum gate_op op;
	double number;
	/* NODE_AND, NODE_OR */
	struct gate_node **kids;
	size_t nkids;
};

struct gate {
	struct gate_node *root;
};

enum tok_type {
	TOK_END,
	TOK_ERROR,
	TOK_NAME,
	TOK_NUMBER,
	TOK_OP,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_AND,
	TOK_OR
};

struct token {
	enum tok_type type;
	size_t start; /* byte offset into the text; the column is start + 1 */
	size_t len;
	enum gate_op op;
	double number;
};

/* Appends to a caller's buffer like snprintf: len counts what would have been written. */
struct strbuf {
	char *buf;
	size_t cap;
	size_t len;
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (sb->buf && sb->len < sb->cap)
		n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->len += n;
}

/* Forget everything appended after len (used to drop comparisons of a branch that failed). */
static void sb_truncate(struct strbuf *sb, size_t len)
{
	sb->len = len;
	if (sb->buf && sb->cap)
		sb->buf[len < sb->cap ? len : sb->cap - 1] = '\0';
}

struct parser {
	const char *text;
	size_t pos;
	const char *const *names;
	struct strbuf err;
	bool failed;
	bool negative_ok; /* gate_parse_signed(): "-90" is a number */
	int depth;
	struct token tok;  /* the lookahead */
	struct token prev; /* the token before it, for "after 'x'" in messages */
};

static void fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Only the first error is reported: later ones are consequences of it. */
static void fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return;
	p->failed = true;
	if (!p->err.buf || !p->err.cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->err.buf, p->err.cap, fmt, ap);
	va_end(ap);
	p->err.len = n > 0 ? (size_t)n : 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || is_digit(c);
}

/* Anything that may not directly follow a number: "1abc", "1.2.3" and "1e5" are one bad word. */
static bool is_word_char(char c)
{
	return is_name_char(c) || (c >= 'A' && c <= 'Z') || c == '.';
}

/* Quote a token for a message, shortened so one line stays one line. */
static void describe(const struct parser *p, const struct token *t, char *out, size_t n)
{
	if (t->type == TOK_END)
		snprintf(out, n, "end of expression");
	else if (t->len > 24)
		snprintf(out, n, "'%.24s...'", p->text + t->start);
	else
		snprintf(out, n, "'%.*s'", (int)t->len, p->text + t->start);
}

static void describe_char(char c, char *out, size_t n)
{
	if (c > ' ' && c < 0x7f)
		snprintf(out, n, "'%c'", c);
	else
		snprintf(out, n, "byte 0x%02x", (unsigned char)c);
}

static void lex_number(struct parser *p, struct token *t)
{
	const char *s = p->text;
	size_t i = p->pos;
	char *end;

	if (s[i] == '-') /* only when the caller allows it (see next()) */
		i++;
	while (is_digit(s[i]))
		i++;
	if (s[i] == '.' && is_digit(s[i + 1])) {
		i++;
		while (is_digit(s[i]))
			i++;
	}
	if (is_word_char(s[i])) {
		while (is_word_char(s[i]))
			i++;
		t->type = TOK_ERROR;
		fail(p, "bad number '%.*s' at column %zu (write e.g. 25000 or 0.5)",
		     (int)(i - p->pos > 24 ? 24 : i - p->pos), s + p->pos, p->pos + 1);
		return;
	}
	t->len = i - p->pos;
	/* The text matched [-]digits[.digits], so strtod must consume exactly that much. */
	t->number = strtod(s + p->pos, &end);
	if (end != s + i || !isfinite(t->number)) {
		t->type = TOK_ERROR;
		fail(p, "number too large or malformed at column %zu", p->pos + 1);
		return;
	}
	t->type = TOK_NUMBER;
	p->pos = i;
}

static bool lex_op(struct parser *p, struct token *t)
{
	const char *s = p->text + p->pos;
	char two = s[1] == '=';

	switch (s[0]) {
	case '>':
		t->op = two ? OP_GE : OP_GT;
		break;
	case '<':
		t->op = two ? OP_LE : OP_LT;
		break;
	case '=':
		if (!two)
			return false;
		t->op = OP_EQ;
		break;
	case '!':
		if (!two)
			return false;
		t->op = OP_NE;
		break;
	default:
		return false;
	}
	t->type = TOK_OP;
	t->len = two ? 2 : 1;
	return true;
}

/* Read the next token into p->tok (keeping the old one in p->prev). */
static void next(struct parser *p)
{
	const char *s = p->text;
	struct token *t = &p->tok;
	char what[32];

	p->prev = p->tok;
	while (is_space(s[p->pos]))
		p->pos++;
	memset(t, 0, sizeof(*t));
	t->start = p->pos;
	if (p->failed) {
		t->type = TOK_ERROR;
		return;
	}

	if (s[p->pos] == '\0') {
		t->type = TOK_END;
		return;
	}
	if (is_digit(s[p->pos])) {
		lex_number(p, t);
		return;
	}
	if (is_name_start(s[p->pos])) {
		size_t i = p->pos;

		while (is_name_char(s[i]))
			i++;
		t->len = i - p->pos;
		t->type = TOK_NAME;
		if (t->len == 3 && !strncmp(s + p->pos, "and", 3))
			t->type = TOK_AND;
		else if (t->len == 2 && !strncmp(s + p->pos, "or", 2))
			t->type = TOK_OR;
		p->pos = i;
		return;
	}
	if (lex_op(p, t)) {
		p->pos += t->len;
		return;
	}

	t->len = 1;
	switch (s[p->pos]) {
	case '(':
		t->type = TOK_LPAREN;
		break;
	case ')':
		t->type = TOK_RPAREN;
		break;
	case '&':
	case '|':
		if (s[p->pos + 1] != s[p->pos])
			goto bad;
		t->type = s[p->pos] == '&' ? TOK_AND : TOK_OR;
		t->len = 2;
		break;
	case '-':
		if (is_digit(s[p->pos + 1]) && p->negative_ok) {
			lex_number(p, t);
			return;
		}
		if (is_digit(s[p->pos + 1])) {
			t->type = TOK_ERROR;
			fail(p, "negative number at column %zu (figures are never negative)",
			     p->pos + 1);
			return;
		}
		goto bad;
	case '.':
		if (is_digit(s[p->pos + 1])) {
			t->type = TOK_ERROR;
			fail(p, "bad number at column %zu (write a digit before the '.', e.g. 0.5)",
			     p->pos + 1);
			return;
		}
		goto bad;
	default:
		goto bad;
	}
	p->pos += t->len;
	return;

bad:
	t->type = TOK_ERROR;
	describe_char(s[p->pos], what, sizeof(what));
	if (s[p->pos] == '=')
		fail(p, "unexpected '=' at column %zu (did you mean '=='?)", p->pos + 1);
	else if (s[p->pos] == '&' || s[p->pos] == '|')
		fail(p, "unexpected %s at column %zu (did you mean '%c%c'?)", what, p->pos + 1,
		     s[p->pos], s[p->pos]);
	else
		fail(p, "unexpected %s at column %zu", what, p->pos + 1);
}

/* Report that the lookahead is not what the grammar wants; "want" says what would have fit. */
static void fail_expected(struct parser *p, const char *want)
{
	char got[48], after[48];

	if (p->tok.type == TOK_ERROR)
		return; /* the lexer already said what was wrong */
	describe(p, &p->prev, after, sizeof(after));
	if (p->tok.type == TOK_END) {
		fail(p, "unexpected end of expression at column %zu: expected %s after %s",
		     p->tok.start + 1, want, after);
		return;
	}
	describe(p, &p->tok, got, sizeof(got));
	if (p->prev.type == TOK_END) /* the first token: there is no "after" */
		fail(p, "expected %s at column %zu, got %s", want, p->tok.start + 1, got);
	else
		fail(p, "expected %s after %s at column %zu, got %s", want, after, p->tok.start + 1,
		     got);
}

static const char *known_name(const struct parser *p, const struct token *t)
{
	for (const char *const *n = p->names; *n; n++) {
		if (strlen(*n) == t->len && !strncmp(*n, p->text + t->start, t->len))
			return *n;
	}
	return NULL;
}

static void fail_unknown(struct parser *p, const struct token *t)
{
	struct strbuf *sb = &p->err;

	if (p->failed)
		return;
	fail(p, "unknown figure '%.*s' at column %zu (known:", (int)(t->len > 32 ? 32 : t->len),
	     p->text + t->start, t->start + 1);
	for (const char *const *n = p->names; *n; n++)
		sb_printf(sb, "%s %s", n == p->names ? "" : ",", *n);
	sb_printf(sb, "%s)", *p->names ? "" : " none");
}

static void node_free(struct gate_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n);
}

static struct gate_node *node_new(struct parser *p, enum node_type type)
{
	struct gate_node *n = calloc(1, sizeof(*n));

	if (!n)
		fail(p, "out of memory");
	else
		n->type = type;
	return n;
}

/* "5 < gc" means "gc > 5": the mirror image of an operator. */
static enum gate_op mirror(enum gate_op op)
{
	switch (op) {
	case OP_GT:
		return OP_LT;
	case OP_GE:
		return OP_LE;
	case OP_LT:
		return OP_GT;
	case OP_LE:
		return OP_GE;
	default:
		return op;
	}
}

static struct gate_node *parse_or(struct parser *p);

static struct gate_node *parse_paren(struct parser *p)
{
	struct token open = p->tok;
	struct gate_node *inner;

	if (p->depth >= GATE_MAX_DEPTH) {
		fail(p, "parentheses nested deeper than %d at column %zu", GATE_MAX_DEPTH,
		     open.start + 1);
		return NULL;
	}
	p->depth++;
	next(p);
	inner = parse_or(p);
	p->depth--;
	if (!inner)
		return NULL;
	if (p->tok.type != TOK_RPAREN) {
		char got[48];

		describe(p, &p->tok, got, sizeof(got));
		if (p->tok.type == TOK_END)
			fail(p,
			     "unexpected end of expression at column %zu: missing ')' for the '(' "
			     "at column %zu",
			     p->tok.start + 1, open.start + 1);
		else if (p->tok.type != TOK_ERROR)
			fail(p, "unexpected %s at column %zu (expected 'and', 'or' or ')')", got,
			     p->tok.start + 1);
		node_free(inner);
		return NULL;
	}
	next(p);
	return inner;
}

static struct gate_node *parse_cmp(struct parser *p)
{
	struct token name = {0}, number = {0}, op;
	const char *known = NULL;
	struct gate_node *n;
	bool name_first;

	if (p->tok.type == TOK_LPAREN)
		return parse_paren(p);
	if (p->tok.type != TOK_NAME && p->tok.type != TOK_NUMBER) {
		if (p->tok.type == TOK_END && p->prev.type == TOK_END)
			fail(p, "empty expression");
		else
			fail_expected(p, "a figure name, a number or '('");
		return NULL;
	}

	name_first = p->tok.type == TOK_NAME;
	if (name_first)
		name = p->tok;
	else
		number = p->tok;
	if (name_first && !(known = known_name(p, &name))) {
		fail_unknown(p, &name);
		return NULL;
	}
	next(p);
	if (p->tok.type != TOK_OP) {
		fail_expected(p, "a comparison (> >= < <= == !=)");
		return NULL;
	}
	op = p->tok;
	next(p);
	if (name_first) {
		if (p->tok.type != TOK_NUMBER) {
			fail_expected(p, "a number");
			return NULL;
		}
		number = p->tok;
	} else {
		if (p->tok.type != TOK_NAME) {
			fail_expected(p, "a figure name");
			return NULL;
		}
		name = p->tok;
		if (!(known = known_name(p, &name))) {
			fail_unknown(p, &name);
			return NULL;
		}
	}
	next(p);

	n = node_new(p, NODE_CMP);
	if (!n)
		return NULL;
	n->name = strdup(known);
	if (!n->name) {
		fail(p, "out of memory");
		free(n);
		return NULL;
	}
	n->op = name_first ? op.op : mirror(op.op);
	n->number = number.number;
	return n;
}

static bool add_kid(struct parser *p, struct gate_node *parent, struct gate_node *kid)
{
	struct gate_node **kids = realloc(parent->kids, (parent->nkids + 1) * sizeof(*kids));

	if (!kids) {
		fail(p, "out of memory");
		return false;
	}
	parent->kids = kids;
	parent->kids[parent->nkids++] = kid;
	return true;
}

/* One level of precedence: sub (sep sub)*. A single operand is returned as is. */
static struct gate_node *parse_chain(struct parser *p, enum tok_type sep, enum node_type type,
				     struct gate_node *(*sub)(struct parser *))
{
	struct gate_node *first, *chain, *kid;

	first = sub(p);
	if (!first || p->tok.type != sep)
		return first;

	chain = node_new(p, type);
	if (!chain || !add_kid(p, chain, first)) {
		node_free(first);
		node_free(chain);
		return NULL;
	}
	while (p->tok.type == sep) {
		next(p);
		kid = sub(p);
		if (!kid || !add_kid(p, chain, kid)) {
			node_free(kid);
			node_free(chain);
			return NULL;
		}
	}
	return chain;
}

static struct gate_node *parse_and(struct parser *p)
{
	return parse_chain(p, TOK_AND, NODE_AND, parse_cmp);
}

static struct gate_node *parse_or(struct parser *p)
{
	return parse_chain(p, TOK_OR, NODE_OR, parse_and);
}

static struct gate *parse(const char *text, const char *const *names, bool negative_ok, char *err,
			  size_t errlen)
{
	static const char *const no_names[] = {NULL};
	struct parser p = {
	    .text = text,
	    .names = names ? names : no_names,
	    .err = {.buf = err, .cap = errlen},
	    .negative_ok = negative_ok,
	};
	struct gate_node *root;
	struct gate *g;

	if (err && errlen)
		err[0] = '\0';
	if (!text) {
		fail(&p, "empty expression");
		return NULL;
	}
	if (strnlen(text, GATE_MAX_LEN + 1) > GATE_MAX_LEN) {
		fail(&p, "expression longer than %d characters", GATE_MAX_LEN);
		return NULL;
	}

	p.tok.type = TOK_END; /* so that the first next() leaves prev as "nothing yet" */
	next(&p);
	root = parse_or(&p);
	if (root && p.tok.type != TOK_END) {
		char got[48];

		describe(&p, &p.tok, got, sizeof(got));
		if (p.tok.type == TOK_RPAREN)
			fail(&p, "unmatched ')' at column %zu", p.tok.start + 1);
		else /* after a TOK_ERROR the lexer has already reported */
			fail(&p, "unexpected %s at column %zu (expected 'and', 'or' or the end)",
			     got, p.tok.start + 1);
	}
	if (p.failed) {
		node_free(root);
		return NULL;
	}

	g = malloc(sizeof(*g));
	if (!g) {
		fail(&p, "out of memory");
		node_free(root);
		return NULL;
	}
	g->root = root;
	return g;
}

struct gate *gate_parse(const char *text, const char *const *names, char *err, size_t errlen)
{
	return parse(text, names, false, err, errlen);
}

struct gate *gate_parse_signed(const char *text, const char *const *names, char *err,
			       size_t errlen)
{
	return parse(text, names, true, err, errlen);
}

/* Integers print as integers ("1234", not "1234.000000"); the rest with six significant digits. */
static void format_number(double v, char *out, size_t n)
{
	if (v == 0)
		v = 0; /* no "-0" */
	/* no libm: the cast is exact for |v| < 1e15 */
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		snprintf(out, n, "%.0f", v);
	else
		snprintf(out, n, "%.6g", v);
}

static bool compare(double v, enum gate_op op, double number)
{
	if (isnan(v))
		return false;
	switch (op) {
	case OP_GT:
		return v > number;
	case OP_GE:
		return v >= number;
	case OP_LT:
		return v < number;
	case OP_LE:
		return v <= number;
	case OP_EQ:
		return v == number;
	case OP_NE:
		return v != number;
	}
	return false;
}

/*
 * Evaluate n. When it holds, why has gained the comparisons that made it hold; when it does not,
 * why is as it was (an 'and' takes back what its first operands appended), so only reasons that
 * count are listed.
 */
static bool eval_node(const struct gate_node *n, gate_value_fn value, void *ctx, struct strbuf *why)
{
	size_t mark = why->len;
	bool any = false;

	switch (n->type) {
	case NODE_CMP: {
		double v = value(n->name, ctx);
		char vs[32], ns[32];

		if (!compare(v, n->op, n->number))
			return false;
		format_number(v, vs, sizeof(vs));
		format_number(n->number, ns, sizeof(ns));
		sb_printf(why, "%s%s = %s %s %s", why->len ? " and " : "", n->name, vs,
			  op_text[n->op], ns);
		return true;
	}
	case NODE_AND:
		for (size_t i = 0; i < n->nkids; i++) {
			if (!eval_node(n->kids[i], value, ctx, why)) {
				sb_truncate(why, mark);
				return false;
			}
		}
		return true;
	case NODE_OR:
		/* Every branch that held is a reason; keep them all. */
		for (size_t i = 0; i < n->nkids; i++) {
			if (eval_node(n->kids[i], value, ctx, why))
				any = true;
		}
		return any;
	}
	return false;
}

bool gate_eval(const struct gate *g, gate_value_fn value, void *ctx, char *why, size_t whylen)
{
	struct strbuf sb = {.buf = why, .cap = whylen};

	if (why && whylen)
		why[0] = '\0';
	if (!g || !value)
		return false;
	return eval_node(g->root, value, ctx, &sb);
}

void gate_free(struct gate *g)
{
	if (!g)
		return;
	node_free(g->root);
	free(g);
}
