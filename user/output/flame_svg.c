// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flame graph as an interactive SVG: self-contained (style and script inside), strict XML,
 * frames drawn from flamegraph.c's tree (flame_tree.h), the script user/output/flamegraph.js.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flame_tree.h"
#include "utf8.h"

/* ---------------------------------------------------------------------------------------- */
/* SVG */

#define SVG_WIDTH   1200
#define SVG_PAD	    10 /* left and right margins */
#define SVG_TOP	    80 /* title, subtitle, hint and controls above the frames */
#define SVG_BOTTOM  36 /* the details line below */
#define FRAME_H	    16 /* one stack level */
#define FONT_PX	    12
#define CHAR_W	    (0.6 * FONT_PX) /* monospace advance, for fitting labels */
#define MIN_FRAME_W 0.1		    /* narrower frames are not drawn */
#define HIGHLIGHT   "#e040e0"	    /* search matches: no palette comes near magenta */

static void xml_emit(void *ctx, const char *p, size_t n)
{
	FILE *out = ctx;
	const char *run = p;

	for (const char *e = p + n; p < e; p++) {
		const char *ent;

		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		fwrite(run, 1, p - run, out);
		fputs(ent, out);
		run = p + 1;
	}
	fwrite(run, 1, p - run, out);
}

/* s as XML character data or attribute value: escaped, and repaired like frame names. */
static void put_xml(FILE *out, const char *s)
{
	flame_sanitize(s, false, xml_emit, out);
}

/* Numbers for coordinates: 4 decimals keep zooming 10000x precise to a fraction of a pixel. */
static void put_num(FILE *out, double v)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.4f", v);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (!strcmp(buf, "-0"))
		strcpy(buf, "0");
	fputs(buf, out);
}

struct palette {
	double hue, hue_span, sat, sat_span, light, light_span;
};

/* Indexed by enum flame_class: ranges in HSL, the name's hash picks a point in them. */
static const struct palette palettes[FLAME_CLASS_COUNT] = {
    [FLAME_CLASS_AUTO] = {0, 50, 0.78, 0.17, 0.55, 0.10},
    [FLAME_CLASS_PYTHON] = {0, 50, 0.78, 0.17, 0.55, 0.10},
    [FLAME_CLASS_NATIVE] = {25, 15, 0.25, 0.15, 0.58, 0.08},
    [FLAME_CLASS_PROCESS] = {205, 20, 0.15, 0.15, 0.66, 0.08},
    [FLAME_CLASS_CAUSE] = {200, 30, 0.70, 0.20, 0.64, 0.08},
    [FLAME_CLASS_OBJECT] = {95, 50, 0.45, 0.20, 0.55, 0.08},
    [FLAME_CLASS_MARK] = {0, 0, 0, 0, 0.72, 0.06},
};

static double hue_channel(double p, double q, double t)
{
	if (t < 0)
		t += 1;
	if (t > 1)
		t -= 1;
	if (t < 1.0 / 6)
		return p + (q - p) * 6 * t;
	if (t < 0.5)
		return q;
	if (t < 2.0 / 3)
		return p + (q - p) * (2.0 / 3 - t) * 6;
	return p;
}

/* "#rrggbb" for a frame: same class and name, same color, in every graph. */
static void frame_color(char buf[8], enum flame_class cls, const char *name)
{
	const struct palette *p = &palettes[cls < FLAME_CLASS_COUNT ? cls : FLAME_CLASS_AUTO];
	uint64_t h = flame_hash(name);
	double hue = (p->hue + p->hue_span * ((h & 0xffff) / 65535.0)) / 360;
	double s = p->sat + p->sat_span * (((h >> 16) & 0xffff) / 65535.0);
	double l = p->light + p->light_span * (((h >> 32) & 0xffff) / 65535.0);
	double q = l < 0.5 ? l * (1 + s) : l + s - l * s;
	double pp = 2 * l - q;

	/* rounding by hand: the tool links no libm */
	snprintf(buf, 8, "#%02x%02x%02x", (int)(255 * hue_channel(pp, q, hue + 1.0 / 3) + 0.5),
		 (int)(255 * hue_channel(pp, q, hue) + 0.5),
		 (int)(255 * hue_channel(pp, q, hue - 1.0 / 3) + 0.5));
}

/* count and unit, "1 page" rather than "1 pages". */
static void put_count(FILE *out, unsigned long long count, const char *unit)
{
	size_t len = strlen(unit);

	fprintf(out, "%llu ", count);
	if (count == 1 && len > 1 && unit[len - 1] == 's') {
		char *one = strndup(unit, len - 1);

		if (one) {
			put_xml(out, one);
			free(one);
			return;
		}
	}
	put_xml(out, unit);
}

/*
 * How much of name fits in a frame width px wide: the number of its bytes to show (0: no label),
 * and whether ".." follows them.
 */
static size_t label_fit(const char *name, double width, bool *dots)
{
	/* truncation is floor here: a negative room gives at most 0 */
	long fit = (long)((width - 6) / CHAR_W);
	size_t chars = 0, cut = 0;
	const char *p;

	*dots = false;
	if (fit < 3)
		return 0;
	for (p = name; *p; p++) {
		if (((unsigned char)*p & 0xc0) == 0x80)
			continue; /* names are valid UTF-8: count code points */
		if (chars == (size_t)fit - 2)
			cut = p - name;
		chars++;
	}
	if (chars <= (size_t)fit)
		return p - name;
	*dots = true;
	return cut;
}

static void put_frame(FILE *out, const char *name, enum flame_class cls, const char *fill,
		      unsigned long long count, unsigned long long total, const char *unit,
		      double x, double y, double w)
{
	char color[8];
	size_t len;
	bool dots;

	if (!fill) {
		frame_color(color, cls, name);
		fill = color;
	}
	fputs("<g><title>", out);
	put_xml(out, name);
	/* an em dash: the script takes the name from before the last one */
	fputs(" \xe2\x80\x94 ", out);
	put_count(out, count, unit);
	fprintf(out, " (%.2f%%)</title><rect x=\"", 100.0 * count / total);
	put_num(out, x);
	fprintf(out, "\" y=\"%d\" width=\"", (int)y);
	put_num(out, w);
	fprintf(out, "\" height=\"%d\" fill=\"%s\"/>", FRAME_H - 1, fill);
	/*
	 * No <text> when no label fits: most frames of a large graph are narrow, and an element
	 * less for each makes the browser's load a third faster. The script adds one on zoom.
	 */
	len = label_fit(name, w, &dots);
	if (len) {
		fputs("<text x=\"", out);
		put_num(out, x + 3);
		fprintf(out, "\" y=\"%d\">", (int)y + FRAME_H - 4);
		xml_emit(out, name, len); /* a normalized name: only the XML specials to escape */
		fputs(dots ? "..</text>" : "</text>", out);
	}
	fputs("</g>\n", out);
}

static const char svg_style[] =
    "text { font-family: monospace; font-size: 12px; fill: #000; }\n"
    "#title { font-size: 17px; font-weight: bold; text-anchor: middle; }\n"
    "#subtitle { fill: #444; text-anchor: middle; }\n"
    "#hint { fill: #777; font-size: 11px; text-anchor: middle; }\n"
    "#empty { fill: #777; font-size: 16px; text-anchor: middle; }\n"
    ".ctl { fill: #1c5fb0; cursor: pointer; }\n"
    ".ctl:hover { text-decoration: underline; }\n"
    ".ctl.off { fill: #aaa; cursor: default; text-decoration: none; }\n"
    "#frames rect { rx: 2px; ry: 2px; cursor: pointer; }\n"
    "#frames g:hover rect { stroke: #000; stroke-width: 0.6; }\n"
    "#frames text { pointer-events: none; }\n"
    "#frames .anc { opacity: 0.55; }\n";

/* The script: user/output/flamegraph.js, as a C string (the Makefile makes the header). */
#include "flamegraph_js.h"

static void svg_head(FILE *out, int height, const char *title, const char *subtitle)
{
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\">\n<title>",
		SVG_WIDTH, height, SVG_WIDTH, height);
	put_xml(out, title);
	fprintf(out, "</title>\n<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", svg_style);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
		SVG_WIDTH, height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", SVG_WIDTH / 2);
	put_xml(out, title);
	fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%d\" y=\"44\">", SVG_WIDTH / 2);
	if (subtitle)
		put_xml(out, subtitle);
	fputs("</text>\n", out);
}

int flame_write_svg(const struct flame *f, FILE *out, const char *title, const char *subtitle,
		    const char *unit)
{
	double scale, y_base;
	size_t max_depth = 0;
	struct tree t;
	struct walk w;
	int err, height;
	bool descend;

	if (!f || !out)
		return -EINVAL;
	if (!title)
		title = "Flame graph";
	if (!unit)
		unit = "pages";

	if (!f->total) {
		height = SVG_TOP + 4 * FRAME_H + SVG_BOTTOM;
		svg_head(out, height, title, subtitle);
		fprintf(out, "<text id=\"empty\" x=\"%d\" y=\"%d\">no copies recorded</text>\n",
			SVG_WIDTH / 2, SVG_TOP + 2 * FRAME_H);
		fputs("</svg>\n", out);
		return flame_finish(out);
	}

	err = flame_tree_build(&t, f);
	if (err)
		return err;
	err = flame_walk_init(&w, &t);
	if (err)
		goto out_tree;
	scale = (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)f->total;

	/* First pass: how deep the drawn frames go, for the height. */
	descend = true;
	while ((err = flame_walk_next(&w, descend)) > 0) {
		descend = t.total[w.path[w.len - 1]] * scale >= MIN_FRAME_W;
		if (descend && w.len - 1 > max_depth)
			max_depth = w.len - 1;
	}
	if (err < 0)
		goto out_walk;
	if (max_depth > (size_t)(INT32_MAX / FRAME_H - SVG_TOP - SVG_BOTTOM - 1)) {
		err = -E2BIG;
		goto out_walk;
	}
	height = SVG_TOP + (int)(max_depth + 1) * FRAME_H + SVG_BOTTOM;
	y_base = SVG_TOP + (double)max_depth * FRAME_H; /* the root's row, at the bottom */

	svg_head(out, height, title, subtitle);
	fprintf(out,
		"<text id=\"hint\" x=\"%d\" y=\"62\">root at the bottom, callees above it; hover a "
		"frame for its count, click to zoom, Ctrl+F to search</text>\n",
		SVG_WIDTH / 2);
	fprintf(out, "<text id=\"reset\" class=\"ctl off\" x=\"%d\" y=\"24\">Reset zoom</text>\n",
		SVG_PAD);
	fprintf(out,
		"<text id=\"search\" class=\"ctl\" x=\"%d\" y=\"24\" "
		"text-anchor=\"end\">Search</text>\n",
		SVG_WIDTH - SVG_PAD);
	fprintf(out,
		"<g id=\"frames\" data-x0=\"%d\" data-width=\"%d\" data-fh=\"%d\" data-base=\"%d\" "
		"data-charw=\"%.1f\" data-total=\"%llu\" data-highlight=\"%s\" data-unit=\"",
		SVG_PAD, SVG_WIDTH - 2 * SVG_PAD, FRAME_H, (int)y_base, CHAR_W, f->total,
		HIGHLIGHT);
	put_xml(out, unit);
	fputs("\">\n", out);

	/* Second pass, the same walk: the frames in pre-order, which the script relies on. */
	put_frame(out, "all", FLAME_CLASS_MARK, "#d0d0cc", f->total, f->total, unit, SVG_PAD,
		  y_base, SVG_WIDTH - 2 * SVG_PAD);
	flame_walk_free(&w);
	err = flame_walk_init(&w, &t);
	if (err)
		goto out_tree;
	descend = true;
	while ((err = flame_walk_next(&w, descend)) > 0) {
		uint32_t node = w.path[w.len - 1];
		size_t depth = w.len - 1;
		double width = t.total[node] * scale;

		descend = width >= MIN_FRAME_W;
		if (!descend)
			continue;
		put_frame(out, flame_node_name(f, node), f->nodes[node].cls, NULL, t.total[node],
			  f->total, unit, SVG_PAD + w.start[w.len - 1] * scale,
			  y_base - (double)depth * FRAME_H, width);
		if (ferror(out))
			break;
	}
	if (err < 0)
		goto out_walk;
	fputs("</g>\n", out);
	fprintf(out,
		"<text id=\"details\" x=\"%d\" y=\"%d\">Hover a frame for its name and count; "
		"click it to zoom.</text>\n",
		SVG_PAD, height - 14);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"></text>\n",
		SVG_WIDTH - SVG_PAD, height - 14);
	fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n</svg>\n",
		svg_script);
	err = flame_finish(out);
out_walk:
	flame_walk_free(&w);
out_tree:
	flame_tree_free(&t);
	return err;
}
