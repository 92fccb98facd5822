/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the lifecycle's decoders of untrusted JSON: config.json's process security,
 * seccomp profile, hooks, linux.resources and the refusal walk (spec_ext_parse), and the runtime's own
 * state.json (rts_load), which another process could have left damaged. */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/spec-ext.h"
#include "runtime/state.h"

static int state_dir = -1;
static char state_path[] = "/tmp/fuzz-runtime-state.XXXXXX";

static void cleanup(void)
{
	unlinkat(state_dir, RTS_STATE_FILE, 0);
	rmdir(state_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	json_tokener *tok = json_tokener_new();
	json_object *doc = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (doc) {
		struct spec_ext x;
		struct rt_err err;
		if (spec_ext_parse(doc, &x, &err) == 0)
			spec_ext_free(&x);
		json_object_put(doc);
	}
	if (state_dir < 0) {
		if (!mkdtemp(state_path))
			abort();
		state_dir = open(state_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		atexit(cleanup);
	}
	int fd = openat(state_dir, RTS_STATE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, data, size) == (ssize_t)size) {
			struct rts s;
			if (rts_load(state_dir, "fuzz", &s) == 0) {
				free(rts_to_oci_json(&s, RTS_RUNNING));
				rts_clear(&s);
			}
		}
		close(fd);
	}
	return 0;
}
