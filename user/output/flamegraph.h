/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flame graphs of weighted stacks: each stack is a list of frame names, root first, with a count
 * (pages or bytes copied). Stacks are merged into a tree as they are added, so memory grows with
 * the number of distinct (parent, name) pairs, not with the number of copies.
 *
 * Three exports:
 *   - collapsed ("folded") stacks, the text format flamegraph.pl, inferno and speedscope read;
 *   - a self-contained interactive SVG (hover, click to zoom, search), our own drawing and script;
 *   - speedscope's JSON "sampled" profile.
 *
 * Frame names are normalized once, when first added, so that every export shows the same name
 * and the folded file can be searched for what the SVG shows:
 *   - ';' becomes ':' (FLAME_SEMICOLON_REPLACEMENT): ';' separates frames in the folded format,
 *     which has no escape; ':' reads closest and stays ASCII, which flamegraph.pl's byte-wise
 *     truncation of long names cannot split;
 *   - control characters (U+0000..U+001F, U+007F, U+0080..U+009F: newline, tab, ...) become ' ':
 *     a newline would end a folded line, and XML 1.0 forbids most of them;
 *   - bytes that are not well-formed UTF-8, and the non-characters U+FFFE/U+FFFF, become U+FFFD;
 *   - an empty name becomes "[empty]": readers of the folded format would see no frame there;
 *   - everything else (spaces, any other UTF-8) stays as it is.
 * Frames whose normalized names are equal are the same frame.
 *
 * Colors (SVG): each frame has a class, given per frame to flame_add_classed() (flame_add() gives
 * FLAME_CLASS_AUTO). The class picks a palette; the name picks a shade in it (a hash, so the same
 * name has the same color in every graph). A frame keeps the first non-AUTO class it was given.
 * Search matches are drawn in magenta, which no palette uses.
 */
#ifndef COWTRACE_FLAMEGRAPH_H
#define COWTRACE_FLAMEGRAPH_H

#include <stddef.h>
#include <stdio.h>

#define FLAME_SEMICOLON_REPLACEMENT ':'

enum flame_class {
	FLAME_CLASS_AUTO = 0, /* warm red-orange-yellow, as flamegraph.pl draws code */
	FLAME_CLASS_PYTHON,   /* the same warm palette: Python frames are what the user reads */
	FLAME_CLASS_NATIVE,   /* tan/brown: native (C) frames */
	FLAME_CLASS_PROCESS,  /* blue-grey: process role and comm */
	FLAME_CLASS_CAUSE,    /* blue: why the page was copied (refcount, gc gen2, ...) */
	FLAME_CLASS_OBJECT,   /* green: object type and field, the leaf */
	FLAME_CLASS_MARK,     /* grey: markers such as "[truncated]" */
	FLAME_CLASS_COUNT,
};

struct flame;

/* NULL when memory is short. */
struct flame *flame_new(void);
void flame_free(struct flame *f);

/*
 * One stack, root first (frames[0] is the root), weighing count (pages or bytes). Stacks with the
 * same (normalized) frames add up. Frame strings are copied. A count of 0 records nothing.
 * Returns 0, -EINVAL (f or frames NULL, a NULL frame, nframes 0), -EOVERFLOW (the total would
 * exceed 2^64 - 1) or -ENOMEM; on failure the recorded stacks and total are as before.
 */
int flame_add(struct flame *f, const char *const *frames, size_t nframes, unsigned long long count);
/* The same with a class for each frame (classes may be NULL: all AUTO). */
int flame_add_classed(struct flame *f, const char *const *frames, const enum flame_class *classes,
		      size_t nframes, unsigned long long count);

/* Sum of the counts added. */
unsigned long long flame_total(const struct flame *f);
/* Distinct stacks (folded lines, speedscope samples). */
size_t flame_stacks(const struct flame *f);

/*
 * Collapsed stacks: one line per distinct stack, "root;child;leaf COUNT\n". Lines are sorted frame
 * by frame (each frame compared bytewise, a stack before the longer stacks it begins), which is
 * the order of a depth-first walk of the tree; this differs from `LC_ALL=C sort` only when one
 * sibling's name is a prefix of another's, and every reader sorts or merges on its own anyway.
 * Returns 0, -EINVAL or -errno of the first write error (-EIO if unknown).
 */
int flame_write_folded(const struct flame *f, FILE *out);

/*
 * A self-contained interactive SVG, 1200 px wide, root at the bottom (as flamegraph.pl draws it,
 * and said in the hint line under the subtitle), below an implicit "all" frame. Each frame is
 * <g><title>NAME — N UNIT (P%)</title><rect/><text>label</text></g> (no <text> when no label
 * fits), its width proportional to its count; frames narrower than 0.1 px are left out (their
 * count stays in the parent's width).
 * Hover shows the title, click zooms into a frame ("Reset zoom", Escape or a click on "all" go
 * back), "Search" (or Ctrl+F) highlights the frames whose names match a regular expression (or
 * the plain text, when it is not one) and shows the matched share. The script reads everything
 * from the DOM; no data is embedded in it. The URL fragment can preset both, for links and tests:
 * "#search=TEXT&zoom=NAME" (percent-encoded; zoom picks the widest frame with that name).
 * title and subtitle may be NULL (title then "Flame graph"); unit NULL is "pages". With no stacks
 * the SVG says "no copies recorded". Returns as flame_write_folded().
 */
int flame_write_svg(const struct flame *f, FILE *out, const char *title, const char *subtitle,
		    const char *unit);

/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json): one "sampled"
 * profile, a shared frames table (one entry per distinct name, in order of first use), one sample
 * per distinct stack (frame indices root first) in folded order, its count as weight. unit
 * "bytes" is speedscope's "bytes"; any other unit (pages) is "none", the only other unit it has
 * for non-time values. name may be NULL ("cowtrace"). Returns as flame_write_folded().
 */
int flame_write_speedscope(const struct flame *f, FILE *out, const char *name, const char *unit);

#endif /* COWTRACE_FLAMEGRAPH_H */
