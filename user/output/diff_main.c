// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cowtrace diff A.json B.json: its options, the two reports loaded, compared, printed, gated. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include "diff.h"
#include "gate.h"
#include "json.h"
#include "log.h"
#include "outfile.h"
#include "textesc.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_GATE = 3 };

/* ---- the command -------------------------------------------------------------------------- */

static const char usage_head[] =
	"Usage: cowtrace diff A.json B.json [--json FILE|-] [--fail-on EXPR] [-q]\n"
	"\n"
	"What changed between two runs of cowtrace --json (A before a change, B after it, e.g.\n"
	"without and with gc.freeze()). Each copy is credited to the first write that copied its\n"
	"page, so what a change saves is the difference between two runs, not any one run's\n"
	"breakdown. Compares the totals (pages, by kind, by cause, gc generations), each\n"
	"role, the workers (the i-th of A with the i-th of B, by start time) and the objects.\n"
	"\n"
	"      --json FILE        the comparison as JSON to FILE ('-' for stdout; the text then\n"
	"                         goes to stderr)\n"
	"      --fail-on EXPR     gate: exit 3 when EXPR holds (the language of cowtrace\n"
	"                         --fail-on; numbers may be negative here)\n"
	"  -q, --quiet            no text output\n"
	"  -h, --help             this help\n"
	"\n"
	"Figures, each as NAME_a (run A), NAME_b (run B), NAME_change (B - A) and NAME_change_pct\n"
	"(100 * (B - A) / A: negative when it fell; 0 when both are 0, undefined when only A is;\n"
	"an undefined figure, as per worker without workers, makes no comparison hold):\n";

static const char usage_tail[] =
	"\n"
	"Examples:\n"
	"  cowtrace diff plain.json frozen.json\n"
	"  cowtrace diff plain.json frozen.json --fail-on 'gc_pages_per_worker_change_pct > -90'\n"
	"      fails (exit 3) unless the gc pages per worker fell by 90% or more\n"
	"\n"
	"Exit status: 0 ok, 1 an input that cannot be read or is not a cowtrace report, 2 usage\n"
	"error, 3 the --fail-on gate held.\n";

void diff_usage(FILE *f)
{
	const struct report_figure *fig;

	fputs(usage_head, f);
	for (fig = diff_figures; fig->name; fig++)
		fprintf(f, "  %-20s %s\n", fig->name, fig->help);
	fputs(usage_tail, f);
}

static int fail_usage(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_usage(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

enum { OPT_JSON = 256, OPT_FAIL_ON };

int diff_options_parse(int argc, char **argv, struct diff_options *o, char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, OPT_JSON },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, npaths = 0;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	optind = 0; /* full reset: the parser may run more than once (tests) */
	opterr = 0;
	/* options may come before or after the two files (getopt moves them to the front) */
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			if (!*optarg)
				return fail_usage(err, errlen,
						  "--json needs a file name ('-' for stdout)");
			o->json_path = optarg;
			break;
		case OPT_FAIL_ON:
			o->fail_on = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case ':':
			return fail_usage(err, errlen, "option '%s' needs an argument",
					  argv[optind - 1]);
		default:
			if (optopt)
				return fail_usage(err, errlen, "unknown option '-%c'", optopt);
			return fail_usage(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (npaths == 2)
			return fail_usage(err, errlen, "one report too many: '%s' (compare two)",
					  argv[optind]);
		if (!*argv[optind])
			return fail_usage(err, errlen, "an empty file name");
		o->path[npaths++] = argv[optind];
	}
	if (npaths < 2)
		return fail_usage(err, errlen, "give two reports: cowtrace diff A.json B.json");
	return 0;
}

static double gate_value(const char *name, void *ctx)
{
	return diff_figure_value(ctx, name);
}

static int load(const char *path, struct diff_report *r)
{
	char err[512], esc[4 * 256], missing[160];

	if (diff_report_load(path, r, err, sizeof(err))) {
		log_error("%s: %s", text_esc(esc, sizeof(esc), path), err);
		return -1;
	}
	if (r->missing)
		log_warn("%s: no %s (an older cowtrace, or a report cut short): read as 0",
			 text_esc(esc, sizeof(esc), path),
			 diff_missing_text(r->missing, missing, sizeof(missing)));
	return 0;
}

int diff_main(int argc, char **argv)
{
	struct diff_report r[2] = { { 0 }, { 0 } };
	struct diff_options o;
	struct outfile json = { 0 };
	struct gate *gate = NULL;
	struct diff d = { 0 };
	char err[1024], why[1024];
	FILE *text = stdout;
	const char *out_name;
	int status = EXIT_OK, e;

	/* like cowtrace itself: installed setuid, it would write files as root for anyone */
	if (getauxval(AT_SECURE)) {
		log_error("refusing to run setuid or setgid");
		return EXIT_ERROR;
	}
	if (diff_options_parse(argc, argv, &o, err, sizeof(err))) {
		log_error("diff: %s (see cowtrace diff --help)", err);
		return EXIT_USAGE;
	}
	if (o.help) {
		diff_usage(stdout);
		return EXIT_OK;
	}
	if (o.fail_on) {
		gate = gate_parse_signed(o.fail_on, diff_figure_names, err, sizeof(err));
		if (!gate) {
			log_error("--fail-on: %s", err);
			return EXIT_USAGE;
		}
	}
	e = outfile_open(&json, o.json_path);
	if (e) {
		log_error("cannot write --json file %s: %s", o.json_path, strerror(-e));
		status = EXIT_USAGE;
		goto out;
	}
	if (load(o.path[0], &r[0]) || load(o.path[1], &r[1])) {
		status = EXIT_ERROR;
		goto out;
	}
	if (diff_compute(&d, o.path[0], &r[0], o.path[1], &r[1])) {
		log_error("out of memory");
		status = EXIT_ERROR;
		goto out;
	}
	out_name = strcmp(o.json_path ? o.json_path : "", "-") ? o.json_path : "to stdout";
	if (json.f) {
		e = diff_json(json.f, &d);
		if (e) {
			log_error("writing %s: %s", out_name, strerror(-e));
			outfile_discard(&json);
			status = EXIT_ERROR;
		}
		if (json.f == stdout)
			text = stderr;
	}
	if (!o.quiet)
		diff_text(text, &d);
	e = outfile_commit(&json);
	if (e && status == EXIT_OK) {
		log_error("writing %s: %s", out_name, strerror(-e));
		status = EXIT_ERROR;
	}
	/* one line per error: stdout's own failure only when nothing has been said yet */
	if ((fflush(stdout) || ferror(stdout)) && status == EXIT_OK) {
		log_error("writing to stdout: a write failed, the output is incomplete");
		status = EXIT_ERROR;
	}
	if (gate && gate_eval(gate, gate_value, &d, why, sizeof(why))) {
		log_error("gate failed (--fail-on '%s'): %s", o.fail_on, why);
		status = EXIT_GATE;
	}
out:
	outfile_discard(&json);
	diff_free(&d);
	diff_report_free(&r[0]);
	diff_report_free(&r[1]);
	gate_free(gate);
	return status;
}
