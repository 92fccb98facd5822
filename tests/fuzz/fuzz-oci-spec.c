/* SPDX-License-Identifier: MIT */
/* libFuzzer target: config.json parser (src/oci). Any input must give a spec or a named error, never a
 * crash, an out-of-bounds access or a leak; an error message is always NUL-terminated and non-empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_spec *s = NULL;
	char err[256];
	memset(err, 'x', sizeof(err));
	int r = oci_spec_parse((const char *)data, size, &s, err, sizeof(err));
	if (r == 0) {
		/* touch what a runtime reads */
		for (size_t i = 0; i < s->n_mounts; i++)
			if (!s->mounts[i].destination)
				abort();
		if (s->process.args && (s->process.n_args == 0 || s->process.args[s->process.n_args] != NULL))
			abort();
		oci_spec_free(s);
	} else if (memchr(err, '\0', sizeof(err)) == NULL || (r == -22 && err[0] == '\0')) {
		abort();
	}
	return 0;
}
