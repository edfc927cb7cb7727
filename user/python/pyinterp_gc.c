// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Which function to uprobe for collections when a build has no USDT probes: the collector's
 * symbol families (gc_collect_main, _PyGC_Collect, collect and GCC's clones of them), the one
 * entered once per collection, and where its generation argument is.
 */
#include <stdint.h>
#include <string.h>

#include "pyelf.h"

/* fn contains a direct call or jump (E8/E9 rel32, x86-64) to target. */
static bool calls_to(const struct img *im, const struct sym *fn, uint64_t target)
{
	const unsigned char *code;
	uint64_t off, len;

	if (!fn->found || im->machine != EM_X86_64 || im->msb || !im->is64)
		return false;
	if (!pyelf_sym_to_off(im, &fn->s, true, &off))
		return false;
	len = fn->s.st_size ? fn->s.st_size : MAX_CODE_SCAN;
	if (len > 4096)
		len = 4096;
	if (len > im->size - off)
		len = im->size - off;
	code = im->raw + off;
	for (uint64_t i = 0; i + 5 <= len; i++) {
		if (code[i] != 0xe8 && code[i] != 0xe9)
			continue;
		if (fn->s.st_value + i + 5 + (int64_t)(int32_t)pyelf_rd32(code + i + 1, false) == target)
			return true;
	}
	return false;
}

static void set_func(char *name, unsigned long *off, const struct cand *c)
{
	/* both are 64 bytes; pyelf_add_cand refused longer names */
	memcpy(name, c->name, sizeof(c->name));
	*off = c->off;
}

/*
 * Where the generation arrives in this copy of the function. A constprop clone keeps the
 * generation (gc.collect(n) and the automatic collections pass different ones) but drops the
 * constant parameters before it; an isra clone may reorder anything.
 */
static int gen_arg_of(const struct cand *c, int gen_pos, int leading_const)
{
	if (c->kind == CAND_SAME)
		return gen_pos;
	if (c->kind == CAND_CONSTPROP)
		return gen_pos - leading_const;
	return 0;
}

/*
 * Pick the collector's entry points from a family of symbols. gen_pos is the generation's
 * 1-based position in the source signature; leading_const counts the parameters before it that
 * are the same in every call, which a GCC constprop clone drops (3.8: state is always
 * &_PyRuntime.gc).
 */
static void pick_collector(const struct img *im, const struct family *f, int gen_pos,
			   int leading_const, struct py_interp *out)
{
	const struct cand *e[2];
	bool api[2];
	int n = 0;

	for (int i = 0; i < f->n; i++) {
		const struct cand *c = &f->c[i];

		if (c->kind == CAND_REJECT || GELF_ST_TYPE(c->s.st_info) != STT_FUNC)
			continue;
		if (n == 2)
			return; /* more entry points than we can tell apart: observe none */
		e[n++] = c;
	}
	if (n == 0)
		return;
	/* the plain function first */
	if (n == 2 && e[1]->kind == CAND_SAME && e[0]->kind != CAND_SAME) {
		const struct cand *t = e[0];

		e[0] = e[1];
		e[1] = t;
	}
	if (n == 1) {
		set_func(out->gc_func, &out->gc_func_offset, e[0]);
		out->gc_gen_arg = gen_arg_of(e[0], gen_pos, leading_const);
		return;
	}

	/*
	 * Two entries: GCC's constprop copy for PyGC_Collect() and _PyGC_CollectNoFail(), which
	 * always collect NUM_GENERATIONS - 1 (Modules/gcmodule.c), next to the one gc.collect(n)
	 * and the automatic collections use. Tell them apart by who calls them; only a constprop
	 * copy can have the generation folded in.
	 */
	for (int i = 0; i < 2; i++)
		api[i] = e[i]->kind == CAND_CONSTPROP &&
			 (calls_to(im, &im->pygc_collect, e[i]->s.st_value) ||
			  calls_to(im, &im->pygc_nofail, e[i]->s.st_value));
	if (api[0] != api[1]) {
		const struct cand *coll = api[0] ? e[1] : e[0], *gen2 = api[0] ? e[0] : e[1];

		set_func(out->gc_func, &out->gc_func_offset, coll);
		out->gc_gen_arg = gen_arg_of(coll, gen_pos, leading_const);
		set_func(out->gc_func2, &out->gc_func2_offset, gen2);
		out->gc_func2_gen = 2;
		return;
	}
	/* cannot tell which is which: probe both, generation unknown */
	set_func(out->gc_func, &out->gc_func_offset, e[0]);
	out->gc_gen_arg = 0;
	set_func(out->gc_func2, &out->gc_func2_offset, e[1]);
	out->gc_func2_gen = -1;
}

/*
 * The function entered once per collection, by version (verified with gdb and kernel uprobes on
 * the pyenv builds, see docs/python-versions.md):
 *   3.6, 3.7  collect(int generation, ...)                          Modules/gcmodule.c
 *   3.8       collect(struct _gc_runtime_state *state, int generation, ...)
 *   3.9       collect(PyThreadState *tstate, int generation, ...)
 *   3.10-3.13 gc_collect_main(PyThreadState *tstate, int generation, ...)
 *             Modules/gcmodule.c, Python/gc.c from 3.13 (where generation may be -1, auto)
 *   3.14.0-4  _PyGC_Collect(PyThreadState *tstate, int generation, _PyGC_Reason reason),
 *             Python/gc.c; the incremental collector has no gc_collect_main (3.14.5 brought
 *             it back). Not verified here: no 3.14 build on this machine.
 */
void pyelf_find_collector(struct img *im, struct py_interp *out)
{
	if (out->major != 3 || out->minor < 6)
		return;
	if (out->minor >= 10) {
		pick_collector(im, &im->fam[FAM_GC_COLLECT_MAIN], 2, 0, out);
		if (!out->gc_func[0] && out->minor >= 14)
			pick_collector(im, &im->fam[FAM_PYGC_COLLECT_INTERNAL], 2, 0, out);
	} else {
		pick_collector(im, &im->fam[FAM_COLLECT], out->minor >= 8 ? 2 : 1,
			       out->minor == 8 ? 1 : 0, out);
	}
}
