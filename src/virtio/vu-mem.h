/* SPDX-License-Identifier: MIT */
/*
 * Guest memory as the front end describes it: regions of shared memory (memfd) that we mmap, and the
 * translation of guest physical addresses (descriptors) and front-end virtual addresses (ring addresses) into
 * our own pointers, with bounds and overflow checks. A table is immutable once built: a change (SET_MEM_TABLE,
 * ADD_MEM_REG, REM_MEM_REG) builds a new table, and queue threads that still hold the old one keep its mappings
 * alive through the reference count until they pick up the new one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/vu-proto.h"

/* Regions we accept: also what GET_MAX_MEM_SLOTS reports. Each costs one mapping and no fd (closed after mmap). */
#define VU_MAX_MEM_SLOTS 32

struct vu_region;
struct vu_mem;

/* Map the region described by r from fd (not taken; the caller closes it). */
int vu_region_new(const struct vhost_user_region *r, int fd, struct vu_region **ret);
void vu_region_unref(struct vu_region *reg);

/* An empty table. */
int vu_mem_new(struct vu_mem **ret);
struct vu_mem *vu_mem_ref(struct vu_mem *m);
void vu_mem_unref(struct vu_mem *m);
unsigned vu_mem_count(const struct vu_mem *m);

/* A new table: m plus reg (a reference is taken). -EEXIST if it overlaps a region of m, -ENOSPC if full. */
int vu_mem_add(const struct vu_mem *m, struct vu_region *reg, struct vu_mem **ret);
/* A new table: m without the region that matches (gpa, size, uva) exactly; -ENOENT if none does. */
int vu_mem_remove(const struct vu_mem *m, uint64_t gpa, uint64_t size, uint64_t uva, struct vu_mem **ret);

/*
 * Translate [gpa, gpa + len) for access: returns the host address of gpa and, in *ret_len, how many bytes of
 * the range lie in that one region (<= len; the caller continues at gpa + *ret_len for the rest). NULL if gpa
 * lies in no region.
 */
void *vu_mem_gpa(const struct vu_mem *m, uint64_t gpa, uint64_t len, uint64_t *ret_len);
/* Translate a range of the front end's virtual addresses that must lie in one region (the rings). NULL if not. */
void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t len);
/*
 * Append iovecs for [gpa, gpa + len) to iov[*cnt..max): several when the range spans regions.
 * -EFAULT if a byte of it is outside guest memory, -E2BIG if more than max iovecs would be needed.
 */
int vu_mem_iov(const struct vu_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov, unsigned *cnt,
	       unsigned max);
/* Copy len bytes of guest memory at gpa into dst (spanning regions as needed); -EFAULT if out of memory. */
int vu_mem_read(const struct vu_mem *m, uint64_t gpa, void *dst, size_t len);
