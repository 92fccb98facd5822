/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the OCI lifecycle's pieces that need no container: the state dir (ids, atomic state.json,
 * locks, liveness), linux.resources and process security parsing, seccomp/caps/rlimits applied for real in a
 * child, hooks (state on stdin, exit status, timeout), the console fd hand-over, the spec refusals, features.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/console.h"
#include "runtime/hooks.h"
#include "runtime/security.h"
#include "runtime/spec-ext.h"
#include "runtime/state.h"

static int failures;
#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                  \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

static char tmpdir[] = "/tmp/test-runtime-state.XXXXXX";

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	if (!o) {
		fprintf(stderr, "bad test json: %s\n", s);
		exit(1);
	}
	return o;
}

static void test_ids(void)
{
	CHECK(rts_id_valid("abc"));
	CHECK(rts_id_valid("a.b-c_d+e9"));
	CHECK(!rts_id_valid(""));
	CHECK(!rts_id_valid("."));
	CHECK(!rts_id_valid(".."));
	CHECK(!rts_id_valid("a/b"));
	CHECK(!rts_id_valid("a b"));
	CHECK(!rts_id_valid("a\nb"));
	char longid[RTS_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	CHECK(!rts_id_valid(longid));
}

static void test_state_roundtrip(void)
{
	char root[256];
	snprintf(root, sizeof(root), "%s/state/sub", tmpdir);
	int rootfd = rts_root_open(root);
	CHECK(rootfd >= 0);
	CHECK(rts_root_open("relative") == -EINVAL);
	int d = rts_dir_create(rootfd, "c1");
	CHECK(d >= 0);
	CHECK(rts_dir_create(rootfd, "c1") == -EEXIST);
	CHECK(rts_dir_create(rootfd, "../x") == -EINVAL);
	/* no state.json yet: what a create killed very early leaves */
	struct rts s;
	CHECK(rts_load(d, "c1", &s) == -ENOENT);

	uint64_t st;
	CHECK(rts_pid_start_time(getpid(), &st) == 0);
	struct rts w = { .id = "c1", .bundle = "/b\"und le", .annotations = "{\"k\":\"v\"}", .cgroup = NULL,
			 .pid = getpid(), .start_time = st, .created = 1700000000, .saved = RTS_CREATED };
	CHECK(rts_save(d, &w) == 0);
	CHECK(rts_load(d, "c1", &s) == 0);
	CHECK(strcmp(s.bundle, "/b\"und le") == 0);
	CHECK(s.pid == getpid() && s.start_time == st && s.saved == RTS_CREATED && !s.started);
	CHECK(strstr(s.annotations, "\"k\"") != NULL);
	rts_clear(&s);
	/* the id inside must match the directory's: a copied state is not taken for another container */
	CHECK(rts_load(d, "c2", &s) == -EBADMSG);
	CHECK(rts_load(d, "c1", &s) == 0);

	/* liveness: created while the fifo exists, running once started, stopped once the pid is not ours */
	CHECK(mkfifoat(d, RTS_FIFO_FILE, 0600) == 0);
	CHECK(rts_status(d, &s) == RTS_CREATED);
	s.started = true;
	CHECK(rts_status(d, &s) == RTS_RUNNING);
	s.start_time++;
	CHECK(rts_status(d, &s) == RTS_STOPPED);
	s.start_time--;
	char *json = rts_to_oci_json(&s, RTS_RUNNING);
	CHECK(json != NULL);
	json_object *o = json ? json_tokener_parse(json) : NULL;
	json_object *v;
	CHECK(o && json_object_object_get_ex(o, "status", &v) && strcmp(json_object_get_string(v), "running") == 0);
	CHECK(o && json_object_object_get_ex(o, "pid", &v) && json_object_get_int(v) == getpid());
	CHECK(o && json_object_object_get_ex(o, "ociVersion", &v));
	json_object_put(o);
	free(json);
	/* a stopped container has no pid in its state, as the spec says */
	json = rts_to_oci_json(&s, RTS_STOPPED);
	CHECK(json && !strstr(json, "\"pid\""));
	free(json);
	rts_clear(&s);

	/* a dead pid (a reaped child) is stopped */
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	uint64_t cst = 0;
	rts_pid_start_time(c, &cst);
	waitpid(c, NULL, 0);
	struct rts dead = { .pid = c, .start_time = cst, .saved = RTS_RUNNING, .started = true };
	CHECK(rts_status(d, &dead) == RTS_STOPPED);
	/* a crashed create that never recorded a pid */
	struct rts early = { .saved = RTS_CREATING };
	CHECK(rts_status(d, &early) == RTS_CREATING);

	/* atomic writes leave no temporary files behind */
	CHECK(rts_save(d, &w) == 0);
	int n = 0;
	DIR *dir = fdopendir(dup(d));
	for (struct dirent *e; dir && (e = readdir(dir));)
		n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (dir)
		closedir(dir);
	CHECK(n == 0);

	/* a malformed state.json is reported, not trusted */
	int f = openat(d, RTS_STATE_FILE, O_WRONLY | O_TRUNC);
	CHECK(f >= 0 && write(f, "{\"id\":", 6) == 6);
	close(f);
	CHECK(rts_load(d, "c1", &s) == -EBADMSG);

	/* locks: a second opener waits, and times out */
	int d2 = rts_dir_open(rootfd, "c1", LOCK_EX, 50);
	CHECK(d2 == -EWOULDBLOCK);
	CHECK(rts_dir_open(rootfd, "nope", LOCK_EX, 0) == -ENOENT);
	flock(d, LOCK_UN);
	d2 = rts_dir_open(rootfd, "c1", LOCK_EX, 50);
	CHECK(d2 >= 0);
	close(d2);
	close(d);
	CHECK(rts_dir_remove(rootfd, "c1") == 0);
	CHECK(faccessat(rootfd, "c1", F_OK, 0) < 0);
	close(rootfd);
}

static void test_resources(void)
{
	struct cg_limits l;
	struct rt_err err = { "" };
	json_object *o = parse("{\"memory\":{\"limit\":104857600,\"swap\":209715200},\"pids\":{\"limit\":64},"
			       "\"cpu\":{\"quota\":50000,\"period\":100000,\"shares\":1024},"
			       "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\","
			       "\"major\":1,\"minor\":3,\"access\":\"rw\"}]}");
	CHECK(cg_limits_parse(o, &l, &err) == 0);
	CHECK(l.has_memory && l.memory_limit == 104857600 && l.memory_swap == 209715200);
	CHECK(l.has_pids && l.pids_limit == 64 && l.cpu_quota == 50000 && l.cpu_period == 100000);
	CHECK(l.n_devices == 2 && !l.devices[0].allow && l.devices[1].type == 'c' && l.devices[1].minor == 3);
	CHECK(cg_limits_any(&l));
	cg_limits_free(&l);
	json_object_put(o);

	static const char *const bad[] = {
		"{\"blockIO\":{\"weight\":10}}",		/* not supported: refused, not ignored */
		"{\"memory\":{\"kernel\":1}}",			/* idem */
		"{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":1}]}",
		"{\"memory\":{\"limit\":100,\"swap\":50}}",	/* swap below limit */
		"{\"memory\":{\"limit\":\"100\"}}",		/* wrong type */
		"{\"cpu\":{\"period\":10}}",			/* out of range */
		"{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}",
		"{\"devices\":[{\"access\":\"rwm\"}]}",		/* allow missing */
		"{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = parse(bad[i]);
		err.msg[0] = 0;
		int r = cg_limits_parse(o, &l, &err);
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(r < 0 && err.msg[0]);
		json_object_put(o);
	}
	/* the spec: pids.limit 0 means unlimited */
	o = parse("{\"pids\":{\"limit\":0}}");
	CHECK(cg_limits_parse(o, &l, &err) == 0 && l.pids_limit == -1);
	cg_limits_free(&l);
	json_object_put(o);
	o = parse("{}");
	CHECK(cg_limits_parse(o, &l, &err) == 0 && !cg_limits_any(&l));
	json_object_put(o);
	/* a systemd slice path and ".." are refused before anything is created */
	struct cg_limits none = { .memory_limit = -1 };
	char *rec = NULL;
	CHECK(cg_setup("machine.slice:libpod:x", &none, getpid(), &rec, &err) == -EOPNOTSUPP);
	CHECK(cg_setup("a/../../b", &none, getpid(), &rec, &err) == -EINVAL);
	/* a damaged state's cgroup record is refused, never followed out of the hierarchy */
	CHECK(cg_destroy("no tabs here\n") == -EBADMSG);
	CHECK(cg_destroy("relative\t/x\t1\n") == -EBADMSG);
	CHECK(cg_destroy("/sys/fs/cgroup\t/../../etc\t1\n") == -EBADMSG);
	pid_t *pids = NULL;
	size_t npids = 0;
	CHECK(cg_pids("/nonexistent-mount\t/x\t1\n", &pids, &npids) == -ENOENT && !pids);
}

static const char *const podman_like_seccomp =
	"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
	"\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
	"\"syscalls\":[{\"names\":[\"read\",\"write\",\"exit\",\"exit_group\",\"no_such_syscall_xyz\"],"
	"\"action\":\"SCMP_ACT_ALLOW\"},"
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,"
	"\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
	"{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":2114060288,"
	"\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	"{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}";

static void test_security_parse(void)
{
	struct sec_config c;
	struct rt_err err = { "" };
	json_object *p = parse("{\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],"
			       "\"permitted\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"inheritable\":[\"CAP_KILL\"],"
			       "\"ambient\":[\"CAP_KILL\"]},"
			       "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":512,\"hard\":1024}],"
			       "\"noNewPrivileges\":true}");
	json_object *l = parse(podman_like_seccomp);
	json_object *lnx = json_object_new_object();
	json_object_object_add(lnx, "seccomp", l);
	CHECK(sec_config_parse(p, lnx, &c, &err) == 0);
	CHECK(c.has_caps && c.cap_bounding == ((1ULL << 0) | (1ULL << 5)) && c.cap_ambient == (1ULL << 5));
	CHECK(c.n_rlimits == 1 && c.rlimits[0].resource == RLIMIT_NOFILE && c.rlimits[0].lim.rlim_cur == 512);
	CHECK(c.no_new_privs && c.seccomp != NULL);
	sec_config_free(&c);
	json_object_put(p);
	json_object_put(lnx);

	/* no process.capabilities: empty sets, bounding included (runc's and crun's default), not root's all */
	p = parse("{\"noNewPrivileges\":true}");
	CHECK(sec_config_parse(p, NULL, &c, &err) == 0);
	CHECK(c.has_caps && c.cap_bounding == 0 && c.cap_effective == 0 && c.cap_permitted == 0 &&
	      c.cap_inheritable == 0 && c.cap_ambient == 0);
	sec_config_free(&c);
	json_object_put(p);

	static const char *const bad_process[] = {
		"{\"capabilities\":{\"bounding\":[\"CAP_NOPE\"]}}",
		"{\"capabilities\":{\"effective\":[\"CAP_KILL\"],\"permitted\":[]}}",
		"{\"capabilities\":{\"ambient\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"]}}",
		"{\"capabilities\":{\"weird\":[]}}",
		"{\"rlimits\":[{\"type\":\"RLIMIT_NOPE\",\"soft\":1,\"hard\":1}]}",
		"{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":1}]}",
		"{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1}]}",
		"{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":-1,\"hard\":1}]}",
		"{\"oomScoreAdj\":5000}",
	};
	for (size_t i = 0; i < sizeof(bad_process) / sizeof(bad_process[0]); i++) {
		p = parse(bad_process[i]);
		err.msg[0] = 0;
		int r = sec_config_parse(p, NULL, &c, &err);
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad_process[i]);
		CHECK(r < 0 && err.msg[0]);
		json_object_put(p);
	}
	static const char *const bad_seccomp[] = {
		"{\"defaultAction\":\"SCMP_ACT_NOPE\"}",
		"{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/x.sock\"}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":7,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_NOPE\"}]}]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"unknownMember\":1}",
		"{}",
	};
	for (size_t i = 0; i < sizeof(bad_seccomp) / sizeof(bad_seccomp[0]); i++) {
		lnx = json_object_new_object();
		json_object_object_add(lnx, "seccomp", parse(bad_seccomp[i]));
		err.msg[0] = 0;
		int r = sec_config_parse(NULL, lnx, &c, &err);
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad_seccomp[i]);
		CHECK(r < 0 && err.msg[0]);
		json_object_put(lnx);
	}
}

/* Apply for real in a child: the filter, the bounding set and the rlimit must be in force after. */
static void test_security_apply(void)
{
	json_object *p = parse("{\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_SETPCAP\"],"
			       "\"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"]},"
			       "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":64,\"hard\":128}],"
			       "\"noNewPrivileges\":true}");
	json_object *lnx = json_object_new_object();
	json_object_object_add(lnx, "seccomp",
			       parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getcwd\"],"
				     "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99}]}"));
	struct sec_config c;
	struct rt_err err = { "" };
	CHECK(sec_config_parse(p, lnx, &c, &err) == 0);
	if (geteuid() != 0) {
		fprintf(stderr, "skipping apply checks: not root\n");
		sec_config_free(&c);
		json_object_put(p);
		json_object_put(lnx);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (sec_apply(&c, &err) < 0) {
			fprintf(stderr, "sec_apply: %s\n", err.msg);
			_exit(10);
		}
		char buf[64];
		if (getcwd(buf, sizeof(buf)) || errno != 99)
			_exit(11);
		if (prctl(PR_CAPBSET_READ, 0 /* CAP_CHOWN */, 0, 0, 0) != 0 || prctl(PR_CAPBSET_READ, 5, 0, 0, 0) != 1)
			_exit(12);
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 64 || rl.rlim_max != 128)
			_exit(13);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(14);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "apply child: status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sec_config_free(&c);
	json_object_put(p);
	json_object_put(lnx);

	/* without noNewPrivileges, libseccomp must not set it behind the spec's back */
	lnx = json_object_new_object();
	json_object_object_add(lnx, "seccomp", parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}"));
	CHECK(sec_config_parse(NULL, lnx, &c, &err) == 0);
	pid = fork();
	if (pid == 0)
		_exit(sec_apply(&c, &err) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0 ? 0 : 1);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sec_config_free(&c);
	json_object_put(lnx);
}

static void test_hooks(void)
{
	char out[300], hookjson[1200];
	snprintf(out, sizeof(out), "%s/hook-out", tmpdir);
	snprintf(hookjson, sizeof(hookjson),
		 "{\"createRuntime\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s; echo $FOO >> %s\"],"
		 "\"env\":[\"FOO=bar\"]}],"
		 "\"poststart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"exit 3\"]}],"
		 "\"poststop\":[{\"path\":\"/bin/sleep\",\"args\":[\"sleep\",\"5\"],\"timeout\":1}]}",
		 out, out);
	json_object *h = parse(hookjson);
	struct rt_hooks hooks;
	struct rt_err err = { "" };
	CHECK(hooks_parse(h, &hooks, &err) == 0);
	CHECK(hooks.create_runtime.n == 1 && hooks.poststart.n == 1 && hooks.poststop.n == 1);
	CHECK(hooks_run(&hooks.create_runtime, "createRuntime", "{\"id\":\"x\"}", &err) == 0);
	char buf[128] = "";
	FILE *f = fopen(out, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	CHECK(strcmp(buf, "{\"id\":\"x\"}bar\n") == 0);
	err.msg[0] = 0;
	CHECK(hooks_run(&hooks.poststart, "poststart", "{}", &err) < 0 && strstr(err.msg, "status 3"));
	err.msg[0] = 0;
	CHECK(hooks_run(&hooks.poststop, "poststop", "{}", &err) == -ETIMEDOUT && strstr(err.msg, "timeout"));
	hooks_free(&hooks);
	json_object_put(h);
	static const char *const bad[] = {
		"{\"prestart\":[{\"path\":\"relative\"}]}",
		"{\"prestart\":[{\"path\":\"/bin/true\",\"timeout\":0}]}",
		"{\"preStart\":[]}",
		"{\"prestart\":{}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = parse(bad[i]);
		err.msg[0] = 0;
		CHECK(hooks_parse(h, &hooks, &err) < 0 && err.msg[0]);
		json_object_put(h);
	}
}

static void test_console_fd(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(console_send_fd(sv[0], p[1], "/dev/pts/7") == 0);
	char name[64];
	int fd = console_recv_fd(sv[1], name, sizeof(name));
	CHECK(fd >= 0 && strcmp(name, "/dev/pts/7") == 0);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	char c = 0;
	CHECK(read(p[0], &c, 1) == 1 && c == 'x');
	close(fd);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	struct rt_err err = { "" };
	CHECK(console_socket_connect("/nonexistent/sock", &err) < 0 && strstr(err.msg, "/nonexistent/sock"));
}

static void test_spec_refusals(void)
{
	static const char *const bad[] = {
		"{\"process\":{\"args\":[\"x\"],\"apparmorProfile\":\"docker-default\"}}",
		"{\"process\":{\"args\":[\"x\"],\"selinuxLabel\":\"system_u:x\"}}",
		"{\"process\":{\"args\":[\"x\"],\"ioPriority\":{\"class\":\"IOPRIO_CLASS_RT\"}}}",
		"{\"linux\":{\"intelRdt\":{\"closID\":\"x\"}}}",
		"{\"linux\":{\"personality\":{\"domain\":\"LINUX32\"}}}",
		"{\"linux\":{\"unknownThing\":1}}",
		"{\"windows\":{}}",
		"{\"process\":{\"args\":[\"x\"],\"user\":{\"uid\":0,\"gid\":0,\"username\":\"root\"}}}",
	};
	struct spec_ext x;
	struct rt_err err = { "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = parse(bad[i]);
		err.msg[0] = 0;
		int r = spec_ext_parse(o, &x, &err);
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(r == -EOPNOTSUPP && strstr(err.msg, "not supported"));
		json_object_put(o);
	}
	/* sysctls: namespaced keys in a namespace of the container's own only */
	static const char *const bad_sysctl[] = {
		"{\"linux\":{\"sysctl\":{\"vm.swappiness\":\"10\"},\"namespaces\":[{\"type\":\"network\"}]}}",
		"{\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}}",
		"{\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},\"namespaces\":[{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"}]}}",
		"{\"linux\":{\"sysctl\":{\"net..x\":\"1\"},\"namespaces\":[{\"type\":\"network\"}]}}",
		"{\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":1},\"namespaces\":[{\"type\":\"network\"}]}}",
		"{\"linux\":{\"sysctl\":{\"kernel.shmmax\":\"1\"},\"namespaces\":[{\"type\":\"network\"}]}}",
	};
	for (size_t i = 0; i < sizeof(bad_sysctl) / sizeof(bad_sysctl[0]); i++) {
		json_object *o = parse(bad_sysctl[i]);
		err.msg[0] = 0;
		int r = spec_ext_parse(o, &x, &err);
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad_sysctl[i]);
		CHECK(r < 0 && strstr(err.msg, "linux.sysctl"));
		json_object_put(o);
	}
	json_object *so = parse("{\"linux\":{\"sysctl\":{\"net.ipv4.conf.eth0/100.forwarding\":\"1\","
				"\"kernel.shmmax\":\"4096\"},\"namespaces\":[{\"type\":\"network\"},{\"type\":\"ipc\"}]}}");
	CHECK(spec_ext_parse(so, &x, &err) == 0 && x.sysctl.n == 2);
	CHECK(x.sysctl.n == 2 && (strcmp(x.sysctl.v[0].path, "net/ipv4/conf/eth0.100/forwarding") == 0 ||
				  strcmp(x.sysctl.v[1].path, "net/ipv4/conf/eth0.100/forwarding") == 0));
	spec_ext_free(&x);
	json_object_put(so);
	/* empty values of refused members ask for nothing: accepted */
	json_object *o = parse("{\"process\":{\"args\":[\"sh\"],\"env\":[\"PATH=/bin\"],\"apparmorProfile\":\"\","
			       "\"terminal\":true,\"consoleSize\":{\"height\":24,\"width\":80}},"
			       "\"linux\":{\"sysctl\":{},\"devices\":[],\"cgroupsPath\":\"/x/y\"}}");
	CHECK(spec_ext_parse(o, &x, &err) == 0);
	CHECK(x.terminal && x.cons_rows == 24 && x.cons_cols == 80 && strcmp(x.cgroups_path, "/x/y") == 0);
	CHECK(x.exe && strcmp(x.exe, "sh") == 0 && x.env[0] && !x.env[1]);
	spec_ext_free(&x);
	json_object_put(o);
}

static void test_features(void)
{
	json_object *doc = json_object_new_object();
	CHECK(spec_ext_features(doc) == 0);
	json_object *lnx, *sc, *v, *caps;
	CHECK(json_object_object_get_ex(doc, "linux", &lnx));
	CHECK(json_object_object_get_ex(lnx, "seccomp", &sc) && json_object_object_get_ex(sc, "actions", &v));
	CHECK(json_object_object_get_ex(lnx, "capabilities", &caps) && json_object_array_length(caps) >= 38);
	CHECK(json_object_object_get_ex(doc, "mountOptions", &v) && json_object_array_length(v) > 10);
	CHECK(json_object_object_get_ex(doc, "hooks", &v) && json_object_array_length(v) == 6);
	json_object_put(doc);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_ids();
	test_state_roundtrip();
	test_resources();
	test_security_parse();
	test_security_apply();
	test_hooks();
	test_console_fd();
	test_spec_refusals();
	test_features();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("runtime-state: all checks passed\n");
	return 0;
}
