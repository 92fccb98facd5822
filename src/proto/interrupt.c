/* SPDX-License-Identifier: MIT */
/*
 * INTERRUPT. Our fs ops are host syscalls that finish on their own, except a lock wait (SETLKW), which can
 * sleep for ever. So only SETLKW registers here (by unique, with its thread); an INTERRUPT for it marks it and
 * sends the thread PROTO_INTR_SIGNAL, whose empty handler (installed without SA_RESTART) makes the blocked
 * fcntl() return EINTR; the fs returns -EINTR and the client sees the interrupted call fail as it expects.
 *
 * An INTERRUPT for a unique nobody registered is never answered (no EAGAIN, unlike libfuse): either the
 * request already completed (its reply is on the way; the client drops the interrupt), or it is not a
 * SETLKW (it completes soon anyway), or it is a SETLKW another thread has read but not yet registered. For
 * that race the unique is remembered in a small ring that SETLKW checks right after registering. Answering
 * EAGAIN would make the client resend the interrupt in a loop until the reply arrives.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "proto/session.h"
#include "util/log.h"
#include "util/macros.h"

static void intr_handler(int sig)
{
}

static void install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = intr_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait must return EINTR */
	sigaction(PROTO_INTR_SIGNAL, &sa, NULL);
}

void proto_signal_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, install_handler);
}

void proto_block_init(struct proto_session *s)
{
	proto_signal_init();
	for (size_t i = 0; i < PROTO_BLOCK_SLOTS; i++)
		pthread_mutex_init(&s->block[i].lock, NULL);
	pthread_mutex_init(&s->early_lock, NULL);
}

void proto_block_fini(struct proto_session *s)
{
	for (size_t i = 0; i < PROTO_BLOCK_SLOTS; i++)
		pthread_mutex_destroy(&s->block[i].lock);
	pthread_mutex_destroy(&s->early_lock);
}

static bool early_take(struct proto_session *s, uint64_t unique)
{
	bool found = false;
	pthread_mutex_lock(&s->early_lock);
	for (size_t i = 0; i < PROTO_EARLY_INTR; i++)
		if (s->early_intr[i] == unique) {
			s->early_intr[i] = 0;
			found = true;
		}
	pthread_mutex_unlock(&s->early_lock);
	return found;
}

struct proto_block_slot *proto_block_enter(struct proto_session *s, uint64_t unique)
{
	if (unique == 0)
		return NULL;
	for (size_t i = 0; i < PROTO_BLOCK_SLOTS; i++) {
		struct proto_block_slot *b = &s->block[i];
		if (pthread_mutex_trylock(&b->lock) != 0)
			continue;
		if (b->unique != 0) {
			pthread_mutex_unlock(&b->lock);
			continue;
		}
		b->unique = unique;
		b->thread = pthread_self();
		b->interrupted = false;
		pthread_mutex_unlock(&b->lock);
		if (early_take(s, unique)) {
			pthread_mutex_lock(&b->lock);
			b->interrupted = true;
			pthread_mutex_unlock(&b->lock);
		}
		return b;
	}
	/* more sleeping lock requests than slots: this one cannot be interrupted, but it still works */
	log_debug("proto: no interrupt slot for request %llu", (unsigned long long)unique);
	return NULL;
}

bool proto_block_interrupted(struct proto_block_slot *b)
{
	pthread_mutex_lock(&b->lock);
	bool r = b->interrupted;
	pthread_mutex_unlock(&b->lock);
	return r;
}

void proto_block_leave(struct proto_session *s, struct proto_block_slot *b)
{
	/* under the lock: once we return, no one signals this thread for this request any more */
	pthread_mutex_lock(&b->lock);
	b->unique = 0;
	b->interrupted = false;
	pthread_mutex_unlock(&b->lock);
}

/* Signal the slot's thread while it still holds unique; false once it left. */
static bool poke(struct proto_block_slot *b, uint64_t unique)
{
	bool still = false;
	pthread_mutex_lock(&b->lock);
	if (b->unique == unique && unique != 0) {
		b->interrupted = true;
		pthread_kill(b->thread, PROTO_INTR_SIGNAL);
		still = true;
	}
	pthread_mutex_unlock(&b->lock);
	return still;
}

/* The signal can land just before the thread enters its wait and be lost: repeat it a few times while the
 * request is still registered (bounded, so a fs that retries on EINTR cannot hold this thread). */
static void poke_until_gone(struct proto_block_slot *b, uint64_t unique)
{
	for (int i = 0; i < 20 && poke(b, unique); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

ssize_t proto_do_interrupt(struct proto_req *r)
{
	struct proto_session *s = r->s;
	struct fuse_interrupt_in in;
	if (req_get(r, &in, sizeof(in)) < 0 || in.unique == 0)
		return 0;
	for (size_t i = 0; i < PROTO_BLOCK_SLOTS; i++) {
		struct proto_block_slot *b = &s->block[i];
		pthread_mutex_lock(&b->lock);
		bool match = b->unique == in.unique;
		pthread_mutex_unlock(&b->lock);
		if (match) {
			poke_until_gone(b, in.unique);
			return 0;
		}
	}
	pthread_mutex_lock(&s->early_lock);
	s->early_intr[s->early_next] = in.unique;
	s->early_next = (s->early_next + 1) % PROTO_EARLY_INTR;
	pthread_mutex_unlock(&s->early_lock);
	return 0;
}

void proto_block_wake_all(struct proto_session *s)
{
	for (size_t i = 0; i < PROTO_BLOCK_SLOTS; i++) {
		struct proto_block_slot *b = &s->block[i];
		pthread_mutex_lock(&b->lock);
		uint64_t u = b->unique;
		pthread_mutex_unlock(&b->lock);
		if (u)
			poke(b, u);
	}
}
