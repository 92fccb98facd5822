/* SPDX-License-Identifier: MIT */
/*
 * The FUSE client side of the proto fuzz targets (fuzz-proto.c over the passthrough backend, fuzz-tree.c over
 * a share tree), in one place: a fresh session per input with INIT done first, the input cut into requests by
 * their own header lengths, every reply checked, and the node ids and fhs the replies hand out made nameable.
 *
 * Node ids and file handles are not guessable (the backends hash them), so the ones this input got back
 * (entries, READDIRPLUS entries, opens) are remembered and the input names them as 0x100 + i: the header's
 * nodeid, the fh that starts most file requests' arguments, LINK's old node, RENAME's new directory and
 * COPY_FILE_RANGE's second file.
 *
 * A few requests are adjusted so a run stays bounded, not to hide anything from the decoders: a SETLKW becomes
 * a SETLK (one thread: a wait for our own other lock would never end), and FALLOCATE and COPY_FILE_RANGE
 * lengths and FALLOCATE and WRITE offsets are capped at 1 MiB (they would fill the disk).
 */
#pragma once

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs;

/* A request the target answers itself instead of proto (fuzz-tree's control requests): true if it took h. */
typedef bool (*fuzz_req_hook)(const struct fuse_in_header *h);

/*
 * Feed one input to a fresh session over fs (borrowed): INIT, then each request in turn (hook, if set, sees
 * each whole header first). Aborts when a reply overruns its room or is not a well-formed header: that is
 * the bug the targets look for.
 */
void fuzz_req_run(struct fs *fs, const uint8_t *data, size_t size, fuzz_req_hook hook);

/* Free the reply buffer (at the target's exit). */
void fuzz_req_cleanup(void);
