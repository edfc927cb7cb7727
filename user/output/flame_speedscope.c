// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The flame graph as a speedscope profile (its "sampled" file format), from flame_tree.h's tree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flame_tree.h"
#include "json.h"

/* ---------------------------------------------------------------------------------------- */
/* speedscope */

int flame_write_speedscope(const struct flame *f, FILE *out, const char *name, const char *unit)
{
	struct json_writer *j;
	uint32_t *frame_of = NULL; /* name index -> frame index, in order of first use */
	uint32_t nframes = 0;
	struct tree t;
	struct walk w;
	int err;

	if (!f || !out)
		return -EINVAL;
	if (!name)
		name = "cowtrace";
	err = flame_tree_build(&t, f);
	if (err)
		return err;
	err = -ENOMEM;
	frame_of = malloc((f->nnames ? f->nnames : 1) * sizeof(*frame_of));
	j = json_writer_new(out);
	if (!frame_of || !j)
		goto out;
	memset(frame_of, 0xff, (f->nnames ? f->nnames : 1) * sizeof(*frame_of));

	json_begin_object(j);
	json_member_string(j, "$schema", "https://www.speedscope.app/file-format-schema.json");
	json_member_string(j, "exporter", "cowtrace");
	json_member_string(j, "name", name);
	json_member_uint(j, "activeProfileIndex", 0);
	json_key(j, "shared");
	json_begin_object(j);
	json_key(j, "frames");
	json_begin_array(j);
	err = flame_walk_init(&w, &t);
	if (err)
		goto out;
	while ((err = flame_walk_next(&w, true)) > 0) {
		uint32_t id = f->nodes[w.path[w.len - 1]].name;

		if (frame_of[id] != UINT32_MAX)
			continue;
		frame_of[id] = nframes++;
		json_begin_object(j);
		json_member_string(j, "name", f->names[id]);
		json_end_object(j);
	}
	flame_walk_free(&w);
	if (err < 0)
		goto out;
	json_end_array(j);
	json_end_object(j);

	json_key(j, "profiles");
	json_begin_array(j);
	json_begin_object(j);
	json_member_string(j, "type", "sampled");
	json_member_string(j, "name", name);
	json_member_string(j, "unit", unit && !strcmp(unit, "bytes") ? "bytes" : "none");
	json_member_uint(j, "startValue", 0);
	json_member_uint(j, "endValue", f->total);

	/* samples and weights: the same walk twice, so both follow the folded order */
	for (int pass = 0; pass < 2; pass++) {
		json_key(j, pass ? "weights" : "samples");
		json_begin_array(j);
		err = flame_walk_init(&w, &t);
		if (err)
			goto out;
		while ((err = flame_walk_next(&w, true)) > 0 && !json_writer_error(j)) {
			uint32_t node = w.path[w.len - 1];

			if (!f->nodes[node].self)
				continue;
			if (pass) {
				json_uint(j, f->nodes[node].self);
				continue;
			}
			json_begin_array(j);
			for (size_t d = 1; d < w.len; d++)
				json_uint(j, frame_of[f->nodes[w.path[d]].name]);
			json_end_array(j);
		}
		flame_walk_free(&w);
		if (err < 0)
			goto out;
		json_end_array(j);
	}
	json_end_object(j);
	json_end_array(j);
	json_end_object(j);
	err = json_writer_error(j);
	if (!err) {
		fputc('\n', out);
		err = flame_finish(out);
	}
out:
	json_writer_free(j);
	free(frame_of);
	flame_tree_free(&t);
	return err;
}
