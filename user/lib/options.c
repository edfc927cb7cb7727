// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"
#include "procfs.h"
#include "report.h"

static const char usage_head[] =
	"Usage: cowtrace [OPTIONS] -p PID\n"
	"       cowtrace [OPTIONS] -- COMMAND [ARGS...]\n"
	"       cowtrace diff A.json B.json [--json FILE|-] [--fail-on EXPR] [-q]\n"
	"\n"
	"Count every copy-on-write page copy in a process tree, and which ones CPython's garbage\n"
	"collector caused. Traces PID (or COMMAND) and all its descendants, existing and future.\n"
	"cowtrace diff compares two --json reports (before and after a change); its options and\n"
	"figures: cowtrace diff --help.\n"
	"\n"
	"  -p, --pid PID[,PID..]  trace each PID and its descendants until they exit, -d, or Ctrl-C\n"
	"  -d, --duration SECS    stop after SECS seconds (COMMAND keeps running, untraced)\n"
	"      --stop             at -d, stop COMMAND too: SIGTERM, SIGKILL 10 s later\n"
	"  -i, --interval SECS    print a live summary on stderr every SECS seconds\n"
	"      --json FILE        write the machine-readable report to FILE ('-' for stdout)\n"
	"      --fail-on EXPR     staging gate: exit 3 when EXPR holds at the end (see below)\n"
	"  -T, --trace            print one line per copied page: time pid tid kind cause addr ip\n"
	"      --by WHAT          break the report down by cause, type, field, region or stack\n"
	"      --folded FILE      Python stacks of the copies, collapsed (flamegraph.pl, inferno)\n"
	"      --svg FILE         an interactive flame graph of them (opens in any browser)\n"
	"      --speedscope FILE  the same for speedscope\n"
	"      --prometheus FILE  the figures in Prometheus's text format (node_exporter's textfile\n"
	"                         collector), rewritten whole every -i interval and at the end\n"
	"      --prometheus-pids  with --prometheus: a series per process, with a pid label\n"
	"      --unit pages|bytes what flame graphs weigh (default pages)\n"
	"      --per-process      stacks per process (\"worker python3 [PID]\"), not merged by\n"
	"                         role and program\n"
	"      --no-stacks        don't walk Python stacks (cheaper)\n"
	"      --native           also record native (C) stacks, below the Python frames; only\n"
	"                         meaningful for code built with frame pointers\n"
	"  -c, --counts-only      count copies only: no object/field/cause attribution (cheapest)\n"
	"      --no-direct-map    read the target (written page, Python stacks) through its own\n"
	"                         mappings, not the kernel's direct map (slower, same results)\n"
	"      --buffer-mb N      copy event buffer in MiB (default 16); a full buffer loses\n"
	"                         attribution, never counts: lost events are reported\n"
	"      --btf FILE         kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
	"      --detector NAME    use this copy detector, not the first that works here\n"
	"      --list-detectors   list the detectors, and whether each works on this kernel\n"
	"  -q, --quiet            no text report\n"
	"  -v, --verbose          show libbpf's debug output\n"
	"  -h, --help             this help\n"
	"  -V, --version          print the version\n"
	"\n"
	"Gate expressions compare figures of the final report with numbers, joined by 'and'/'or'\n"
	"(and binds tighter; parentheses group), operators > >= < <= == !=. Figures:\n";

static const char usage_tail[] =
	"\n"
	"Examples:\n"
	"  sudo cowtrace -p $(pgrep -o gunicorn)           trace a gunicorn master and its workers\n"
	"  sudo cowtrace -d 30 --json cow.json -p 1234      30 seconds, JSON report to cow.json\n"
	"  sudo cowtrace --fail-on 'gc > 0' -- python3 app.py   fail (exit 3) on any GC-caused copy\n"
	"  sudo cowtrace --fail-on 'gc_pct > 1 or pages > 25000' -p 1234\n"
	"\n"
	"Exit status: 0 ok, 1 error, 2 usage error, 3 the --fail-on gate held, 127 COMMAND not\n"
	"found; with COMMAND, otherwise COMMAND's own status (128+N when killed by signal N).\n";

void options_usage(FILE *f)
{
	const struct report_figure *fig;

	fputs(usage_head, f);
	for (fig = report_figures; fig->name; fig++)
		if (fig->help[0])
			fprintf(f, "  %-18s %s\n", fig->name, fig->help);
		else
			fprintf(f, "  %s\n", fig->name);
	fputs(usage_tail, f);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A positive, finite number of seconds. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

enum {
	OPT_JSON = 256,
	OPT_FAIL_ON,
	OPT_BTF,
	OPT_BY,
	OPT_BUFFER_MB,
	OPT_FOLDED,
	OPT_SVG,
	OPT_SPEEDSCOPE,
	OPT_UNIT,
	OPT_NO_STACKS,
	OPT_PER_PROCESS,
	OPT_NATIVE,
	OPT_NO_DIRECT_MAP,
	OPT_STOP,
	OPT_DETECTOR,
	OPT_LIST_DETECTORS,
	OPT_PROMETHEUS,
	OPT_PROMETHEUS_PIDS,
};

static const char *const by_values[] = { "cause", "type", "field", "region", "stack", NULL };

/* "1234" or "1,2,3" (perf's convention); -p may also be given more than once. */
static int parse_pids(const char *arg, struct options *o)
{
	char buf[32];
	const char *p = arg;
	size_t len;
	int pid, i;

	do {
		len = strcspn(p, ",");
		if (!len || len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (procfs_parse_pid(buf, &pid))
			return -EINVAL;
		for (i = 0; i < o->npids && o->pids[i] != pid; i++)
			;
		if (i == o->npids) {
			if (o->npids == OPT_PIDS_MAX)
				return -EINVAL;
			o->pids[o->npids++] = pid;
		}
		p += len;
	} while (*p++ == ',');
	o->pid = o->pids[0];
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "btf", required_argument, NULL, OPT_BTF },
		{ "trace", no_argument, NULL, 'T' },
		{ "by", required_argument, NULL, OPT_BY },
		{ "counts-only", no_argument, NULL, 'c' },
		{ "buffer-mb", required_argument, NULL, OPT_BUFFER_MB },
		{ "folded", required_argument, NULL, OPT_FOLDED },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "speedscope", required_argument, NULL, OPT_SPEEDSCOPE },
		{ "unit", required_argument, NULL, OPT_UNIT },
		{ "no-stacks", no_argument, NULL, OPT_NO_STACKS },
		{ "per-process", no_argument, NULL, OPT_PER_PROCESS },
		{ "native", no_argument, NULL, OPT_NATIVE },
		{ "no-direct-map", no_argument, NULL, OPT_NO_DIRECT_MAP },
		{ "stop", no_argument, NULL, OPT_STOP },
		{ "detector", required_argument, NULL, OPT_DETECTOR },
		{ "list-detectors", no_argument, NULL, OPT_LIST_DETECTORS },
		{ "prometheus", required_argument, NULL, OPT_PROMETHEUS },
		{ "prometheus-pids", no_argument, NULL, OPT_PROMETHEUS_PIDS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int c;
	const char *const *by;
	char *end;
	unsigned long mb;

	memset(o, 0, sizeof(*o));
	o->buffer_mb = 16;
	err[0] = '\0';
	optind = 0; /* full reset, so that the parser can run more than once (tests) */
	opterr = 0;
	/* '+': stop at the first non-option, which starts COMMAND even without "--" */
	while ((c = getopt_long(argc, argv, "+:p:d:i:TcqvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_pids(optarg, o))
				return fail(err, errlen, "invalid pid '%s' (expected a number, or "
					    "numbers separated by commas)", optarg);
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration))
				return fail(err, errlen, "invalid duration '%s' (seconds > 0)", optarg);
			break;
		case 'i':
			if (parse_seconds(optarg, &o->interval))
				return fail(err, errlen, "invalid interval '%s' (seconds > 0)", optarg);
			break;
		case OPT_JSON:
			if (!*optarg)
				return fail(err, errlen, "--json needs a file name ('-' for stdout)");
			o->json_path = optarg;
			break;
		case OPT_FAIL_ON:
			o->fail_on = optarg;
			break;
		case OPT_BTF:
			o->btf_path = optarg;
			break;
		case 'T':
			o->trace = true;
			break;
		case 'c':
			o->counts_only = true;
			break;
		case OPT_BY:
			for (by = by_values; *by && strcmp(*by, optarg); by++)
				;
			if (!*by)
				return fail(err, errlen,
					    "invalid --by '%s' (cause, type, field or region)", optarg);
			o->by = *by;
			break;
		case OPT_FOLDED:
		case OPT_SVG:
		case OPT_SPEEDSCOPE:
			if (!*optarg)
				return fail(err, errlen, "%s needs a file name", argv[optind - 1]);
			if (c == OPT_FOLDED)
				o->folded_path = optarg;
			else if (c == OPT_SVG)
				o->svg_path = optarg;
			else
				o->speedscope_path = optarg;
			break;
		case OPT_UNIT:
			if (strcmp(optarg, "pages") && strcmp(optarg, "bytes"))
				return fail(err, errlen, "invalid --unit '%s' (pages or bytes)",
					    optarg);
			o->unit_bytes = !strcmp(optarg, "bytes");
			break;
		case OPT_NO_STACKS:
			o->no_stacks = true;
			break;
		case OPT_PER_PROCESS:
			o->per_process = true;
			break;
		case OPT_NATIVE:
			o->native = true;
			break;
		case OPT_NO_DIRECT_MAP:
			o->no_direct_map = true;
			break;
		case OPT_STOP:
			o->stop_command = true;
			break;
		case OPT_DETECTOR:
			o->detector = optarg;
			break;
		case OPT_LIST_DETECTORS:
			o->list_detectors = true;
			break;
		case OPT_PROMETHEUS:
			/* rewritten at every -i tick: a file, never stdout */
			if (!*optarg || !strcmp(optarg, "-"))
				return fail(err, errlen, "--prometheus needs a file name (not stdout)");
			o->prometheus_path = optarg;
			break;
		case OPT_PROMETHEUS_PIDS:
			o->prometheus_pids = true;
			break;
		case OPT_BUFFER_MB:
			errno = 0;
			mb = strtoul(optarg, &end, 10);
			/* a ring buffer is a power of two pages; 1 MiB to 1 GiB */
			if (errno || end == optarg || *end || mb < 1 || mb > 1024 || (mb & (mb - 1)))
				return fail(err, errlen,
					    "invalid --buffer-mb '%s' (a power of two, 1 to 1024)",
					    optarg);
			o->buffer_mb = mb;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case 'V':
			o->version = true;
			return 0;
		case ':':
			return fail(err, errlen, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->command = &argv[optind];
	if (o->list_detectors)
		return 0;

	if (o->pid && o->command)
		return fail(err, errlen, "give either -p PID or a COMMAND, not both");
	if (!o->pid && !o->command)
		return fail(err, errlen, "nothing to trace: give -p PID or -- COMMAND");
	if (o->by && o->counts_only)
		return fail(err, errlen, "--by needs attribution, which --counts-only turns off");
	if (o->stop_command && (!o->command || !o->duration))
		return fail(err, errlen, "--stop stops COMMAND at -d: give both");
	if ((o->folded_path || o->svg_path || o->speedscope_path ||
	     (o->by && !strcmp(o->by, "stack"))) &&
	    (o->counts_only || o->no_stacks))
		return fail(err, errlen, "stacks were asked for (--folded, --svg, --speedscope or "
				    "--by stack) and turned off (--counts-only or --no-stacks)");
	if (o->per_process && (o->counts_only || o->no_stacks))
		return fail(err, errlen, "--per-process splits stacks, which --counts-only and "
				    "--no-stacks turn off");
	if (o->native && (o->counts_only || o->no_stacks))
		return fail(err, errlen, "--native needs stacks (not with --counts-only or --no-stacks)");
	if (o->counts_only)
		o->no_stacks = true;
	if (o->trace && o->json_path && !strcmp(o->json_path, "-"))
		return fail(err, errlen, "--trace and --json - both want stdout");
	if (o->prometheus_pids && !o->prometheus_path)
		return fail(err, errlen, "--prometheus-pids needs --prometheus FILE");
	{
		/* two reports written to one file: the last would overwrite the others */
		const char *outs[] = { o->json_path, o->svg_path, o->folded_path,
				       o->speedscope_path, o->prometheus_path };
		const char *names[] = { "--json", "--svg", "--folded", "--speedscope",
					"--prometheus" };
		size_t i, j;

		for (i = 0; i < 5; i++)
			for (j = i + 1; j < 5; j++)
				if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
					return fail(err, errlen, "%s and %s both name %s", names[i],
						    names[j], outs[i]);
	}
	return 0;
}
