/* SPDX-License-Identifier: MIT */
/*
 * The runtime's log file. stderr is replaced by a stream that writes every byte to the real fd 2 and, line
 * by line, a record to the log: "time level msg" as text, or {"level","msg","time"} as JSON (runc's
 * logrus format, which conmon and containerd parse). Lines are "boxshare: [level: ]message": cli_error()
 * ones are errors, log_emit() ones carry their level.
 */
#include "cli/log-file.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/macros.h"

struct tee {
	int log_fd;
	bool json;
	char line[2048];
	size_t len;
};

static struct tee log_tee = { .log_fd = -1 };

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void emit(struct tee *t)
{
	t->line[t->len] = 0;
	const char *msg = t->line, *level = "error";
	if (strncmp(msg, "boxshare: ", 10) == 0)
		msg += 10;
	static const char *const levels[] = { "error", "warning", "info", "debug" };
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
		size_t n = strlen(levels[i]);
		if (strncmp(msg, levels[i], n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') {
			level = levels[i];
			msg += n + 2;
			break;
		}
	}
	struct timeval tv;
	struct tm tm;
	char ts[48] = "";
	gettimeofday(&tv, NULL);
	if (gmtime_r(&tv.tv_sec, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (t->json) {
		json_object *o = json_object_new_object();
		if (!o)
			return;
		json_object_object_add(o, "level", json_object_new_string(level));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		json_object_object_add(o, "time", json_object_new_string(ts));
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		char buf[4096];
		int n = snprintf(buf, sizeof(buf), "%s\n", s);
		write_all(t->log_fd, buf, (size_t)MIN(n, (int)sizeof(buf) - 1));
		json_object_put(o);
	} else {
		char buf[2200];
		int n = snprintf(buf, sizeof(buf), "%s %s %s\n", ts, level, msg);
		write_all(t->log_fd, buf, (size_t)MIN(n, (int)sizeof(buf) - 1));
	}
	t->len = 0;
}

static ssize_t tee_write(void *cookie, const char *buf, size_t size)
{
	struct tee *t = cookie;
	write_all(STDERR_FILENO, buf, size);
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n' || t->len == sizeof(t->line) - 1)
			emit(t);
		if (buf[i] != '\n')
			t->line[t->len++] = buf[i];
	}
	return (ssize_t)size;
}

static int tee_close(void *cookie)
{
	struct tee *t = cookie;
	if (t->len)
		emit(t);
	return 0;
}

int cli_log_open(const struct cli_global *g)
{
	if (!g->log_file)
		return 0;
	log_tee.log_fd = open(g->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (log_tee.log_fd < 0)
		return -errno;
	log_tee.json = g->log_json;
	FILE *f = fopencookie(&log_tee, "w", (cookie_io_functions_t){ .write = tee_write, .close = tee_close });
	if (!f)
		return -errno;
	/* unbuffered: a forked child must not inherit half a line to write twice */
	setvbuf(f, NULL, _IONBF, 0);
	stderr = f;
	return 0;
}
