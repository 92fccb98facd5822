/* SPDX-License-Identifier: MIT */
/* Guest memory regions: mapping, reference-counted tables, address translation with bounds checks. */
#include "virtio/vu-mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"

struct vu_region {
	atomic_uint ref;
	uint64_t gpa;  /* guest physical address of the first byte */
	uint64_t size; /* bytes; gpa + size and uva + size do not overflow */
	uint64_t uva;  /* the front end's virtual address of the first byte */
	void *map;     /* our mapping, starting at the page that holds mmap_offset */
	size_t map_len;
	uint8_t *host; /* our address of the first byte */
};

struct vu_mem {
	atomic_uint ref;
	unsigned n;
	struct vu_region *r[VU_MAX_MEM_SLOTS];
};

int vu_region_new(const struct vhost_user_region *r, int fd, struct vu_region **ret)
{
	uint64_t end;
	struct stat st;

	if (fd < 0)
		return -EBADF;
	if (r->memory_size == 0 || __builtin_add_overflow(r->guest_phys_addr, r->memory_size - 1, &end) ||
	    __builtin_add_overflow(r->userspace_addr, r->memory_size - 1, &end) ||
	    __builtin_add_overflow(r->mmap_offset, r->memory_size, &end))
		return -EINVAL;
	/* A mapping beyond the end of the file would turn a guest access into SIGBUS in our process. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size < end)
		return -EINVAL;

	long page = sysconf(_SC_PAGESIZE);
	uint64_t map_off = r->mmap_offset & ~((uint64_t)page - 1);
	uint64_t map_len = r->memory_size + (r->mmap_offset - map_off);
	if (map_len > SIZE_MAX || map_off > (uint64_t)INT64_MAX)
		return -EINVAL;

	_cleanup_free_ struct vu_region *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	void *p = mmap(NULL, (size_t)map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		       (off_t)map_off);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest memory in a core dump of ours would leak the guest's data; keep it out. */
	(void)madvise(p, (size_t)map_len, MADV_DONTDUMP);
	atomic_init(&reg->ref, 1);
	reg->gpa = r->guest_phys_addr;
	reg->size = r->memory_size;
	reg->uva = r->userspace_addr;
	reg->map = p;
	reg->map_len = (size_t)map_len;
	reg->host = (uint8_t *)p + (r->mmap_offset - map_off);
	log_debug("vhost-user: region gpa 0x%llx size 0x%llx uva 0x%llx mapped",
		  (unsigned long long)reg->gpa, (unsigned long long)reg->size, (unsigned long long)reg->uva);
	*ret = TAKE_PTR(reg);
	return 0;
}

static struct vu_region *vu_region_ref(struct vu_region *reg)
{
	atomic_fetch_add_explicit(&reg->ref, 1, memory_order_relaxed);
	return reg;
}

void vu_region_unref(struct vu_region *reg)
{
	if (!reg || atomic_fetch_sub_explicit(&reg->ref, 1, memory_order_acq_rel) != 1)
		return;
	munmap(reg->map, reg->map_len);
	free(reg);
}

int vu_mem_new(struct vu_mem **ret)
{
	struct vu_mem *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	atomic_init(&m->ref, 1);
	*ret = m;
	return 0;
}

struct vu_mem *vu_mem_ref(struct vu_mem *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->ref, 1, memory_order_relaxed);
	return m;
}

void vu_mem_unref(struct vu_mem *m)
{
	if (!m || atomic_fetch_sub_explicit(&m->ref, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned i = 0; i < m->n; i++)
		vu_region_unref(m->r[i]);
	free(m);
}

unsigned vu_mem_count(const struct vu_mem *m)
{
	return m->n;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* lengths are > 0 and a + alen - 1, b + blen - 1 do not overflow */
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

int vu_mem_add(const struct vu_mem *m, struct vu_region *reg, struct vu_mem **ret)
{
	if (m->n >= VU_MAX_MEM_SLOTS)
		return -ENOSPC;
	for (unsigned i = 0; i < m->n; i++)
		if (ranges_overlap(m->r[i]->gpa, m->r[i]->size, reg->gpa, reg->size))
			return -EEXIST;
	struct vu_mem *n;
	int r = vu_mem_new(&n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < m->n; i++)
		n->r[i] = vu_region_ref(m->r[i]);
	n->r[m->n] = vu_region_ref(reg);
	n->n = m->n + 1;
	*ret = n;
	return 0;
}

int vu_mem_remove(const struct vu_mem *m, uint64_t gpa, uint64_t size, uint64_t uva, struct vu_mem **ret)
{
	unsigned victim = m->n;
	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i]->gpa == gpa && m->r[i]->size == size && m->r[i]->uva == uva)
			victim = i;
	if (victim == m->n)
		return -ENOENT;
	struct vu_mem *n;
	int r = vu_mem_new(&n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < m->n; i++)
		if (i != victim)
			n->r[n->n++] = vu_region_ref(m->r[i]);
	*ret = n;
	return 0;
}

void *vu_mem_gpa(const struct vu_mem *m, uint64_t gpa, uint64_t len, uint64_t *ret_len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vu_region *reg = m->r[i];
		/* written so that nothing overflows: gpa - reg->gpa is only computed when gpa >= reg->gpa */
		if (gpa < reg->gpa || gpa - reg->gpa >= reg->size)
			continue;
		uint64_t off = gpa - reg->gpa;
		*ret_len = MIN(len, reg->size - off);
		return reg->host + off;
	}
	return NULL;
}

void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vu_region *reg = m->r[i];
		if (uva < reg->uva || uva - reg->uva >= reg->size)
			continue;
		uint64_t off = uva - reg->uva;
		if (len > reg->size - off)
			return NULL;
		return reg->host + off;
	}
	return NULL;
}

int vu_mem_iov(const struct vu_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov, unsigned *cnt,
	       unsigned max)
{
	uint64_t end;
	if (len > 0 && __builtin_add_overflow(gpa, len - 1, &end))
		return -EFAULT;
	while (len > 0) {
		uint64_t got;
		void *p = vu_mem_gpa(m, gpa, len, &got);
		if (!p)
			return -EFAULT;
		if (*cnt >= max)
			return -E2BIG;
		iov[*cnt].iov_base = p;
		iov[*cnt].iov_len = (size_t)got;
		(*cnt)++;
		gpa += got;
		len -= got;
	}
	return 0;
}

int vu_mem_read(const struct vu_mem *m, uint64_t gpa, void *dst, size_t len)
{
	uint64_t end;
	uint8_t *d = dst;
	if (len > 0 && __builtin_add_overflow(gpa, (uint64_t)len - 1, &end))
		return -EFAULT;
	while (len > 0) {
		uint64_t got;
		const void *p = vu_mem_gpa(m, gpa, len, &got);
		if (!p)
			return -EFAULT;
		memcpy(d, p, (size_t)got);
		d += got;
		gpa += got;
		len -= (size_t)got;
	}
	return 0;
}
