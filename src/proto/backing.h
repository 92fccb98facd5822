/* SPDX-License-Identifier: MIT */
/*
 * Kernel FUSE passthrough, the protocol side: which backing id (if any) an OPEN/CREATE/TMPFILE reply carries.
 *
 * The client keeps one backing file per FUSE inode: while a node has passthrough opens every new open must be
 * passthrough with the same backing, and while it has cached opens none may be (fs/fuse/iomode.c; a mismatch
 * fails the caller's open with EIO). So proto keeps, per node id with opens, either one registered backing id
 * and the count of passthrough opens that use it, or the count of opens served without passthrough although
 * the fs offered a backing fd (registration failed for that file). The id is registered through the transport
 * hook on the node's first open and closed when its last passthrough open is RELEASEd.
 *
 * An fs must give a backing fd for every open of a node or for none (a virtual node): a RELEASE cannot tell
 * which open it ends, so opens without a backing fd are not counted.
 *
 * The table is sharded by node id (a mutex per shard, no global lock); entries come from per-shard chunks, so
 * an open allocates only when a shard grows past its high-water mark.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct proto_session;
struct proto_backing;

/* The per-session table; proto_session_new makes it when opts.passthrough asks for passthrough. */
int proto_backing_new(struct proto_backing **ret);
/* Close every id still registered (the client went away without its RELEASEs) and free the table. */
void proto_backing_free(struct proto_session *s, struct proto_backing *b);

/*
 * An open of nodeid that the fs answered with backing fd fd (-1: none) is about to be replied. Returns the
 * backing id (> 0) to reply with FOPEN_PASSTHROUGH, 0 to reply without, or -ENOMEM (the open must fail: it
 * could not be counted). The open is counted either way when it matters; proto_backing_release undoes it.
 * EPERM from the transport (no CAP_SYS_ADMIN) turns passthrough off for the session, with one warning.
 *
 * direct: the open asks for O_DIRECT. Such an open of a node without passthrough opens is served through us
 * (and so are the node's other opens while it lasts), as without passthrough: on Linux 6.18 a passthrough
 * O_DIRECT file's asynchronous reads degrade to one at a time once the backing file has seen buffered writes
 * (fio libaio iodepth 16 4k random reads after a buffered random write: 18.6k IOPS through passthrough, 130k
 * native, same file system), while the server's host fd serves them from the host page cache. A node that
 * already has passthrough opens gets passthrough for its O_DIRECT opens too (the client allows no mix).
 */
int proto_backing_open(struct proto_session *s, uint64_t nodeid, int fd, bool direct);
/* RELEASE of an open of nodeid: uncount it; the node's last passthrough open closes the id. */
void proto_backing_release(struct proto_session *s, uint64_t nodeid);
