/* SPDX-License-Identifier: MIT */
/* Unit test of the config.json parser (src/oci): good specs, malformed JSON and hostile values. Every error
 * must name the field. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "oci/spec.h"

static int failures;
#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

static struct oci_spec *parse_ok(const char *json)
{
	struct oci_spec *s = NULL;
	char err[256] = "";
	int r = oci_spec_parse(json, strlen(json), &s, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "unexpected error %d: %s\n  for %s\n", r, err, json);
		failures++;
		return NULL;
	}
	return s;
}

/* The error must start with the field name and contain want. */
static void parse_bad(const char *json, size_t len, const char *want)
{
	struct oci_spec *s = NULL;
	char err[256] = "";
	int r = oci_spec_parse(json, len, &s, err, sizeof(err));
	if (r != -EINVAL || s || !strstr(err, want)) {
		fprintf(stderr, "for %.*s\n  got %d \"%s\", want -EINVAL \"%s\"\n", (int)(len > 200 ? 200 : len), json,
			r, err, want);
		failures++;
	}
	oci_spec_free(s);
}
#define BAD(json, want) parse_bad(json, strlen(json), want)

static void test_good(void)
{
	struct oci_spec *s = parse_ok(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"box\","
		"\"unknownField\":{\"deep\":[1,2,3]},"
		"\"process\":{\"args\":[\"sh\",\"-c\",\"exit 3\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/tmp\","
		"\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[5,4294967295]},\"noNewPrivileges\":true},"
		"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		"{\"destination\":\"/data\",\"source\":\"/srv\",\"options\":[\"rbind\",\"ro\",\"rshared\"]},"
		"{\"destination\":\"/t\",\"type\":\"tmpfs\",\"options\":[\"size=1m\",\"mode=1777\"]}],"
		"\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"},{\"type\":\"user\"}],"
		"\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}],"
		"\"rootfsPropagation\":\"rslave\",\"maskedPaths\":[\"/proc/kcore\"],"
		"\"readonlyPaths\":[\"/proc/sys\"],\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}}}");
	if (!s)
		return;
	CHECK(strcmp(s->root_path, "rootfs") == 0 && s->root_readonly);
	CHECK(strcmp(s->hostname, "box") == 0);
	CHECK(s->process.n_args == 3 && strcmp(s->process.args[2], "exit 3") == 0 && !s->process.args[3]);
	CHECK(s->process.n_env == 1 && !s->process.env[1]);
	CHECK(s->process.uid == 1000 && s->process.gid == 100);
	CHECK(s->process.n_additional_gids == 2 && s->process.additional_gids[1] == 4294967295u);
	CHECK(s->process.no_new_privileges);
	CHECK(s->n_mounts == 3);
	CHECK(s->mounts[1].parsed.rbind && (s->mounts[1].parsed.attr_set & 1) &&
	      s->mounts[1].parsed.propagation == MS_SHARED && s->mounts[1].parsed.prop_recursive);
	CHECK(s->mounts[2].parsed.data && strcmp(s->mounts[2].parsed.data, "size=1m,mode=1777") == 0);
	CHECK(s->lnx.ns[OCI_NS_MOUNT].enabled && s->lnx.ns[OCI_NS_USER].enabled && !s->lnx.ns[OCI_NS_NET].enabled);
	CHECK(s->lnx.n_uid_mappings == 1 && s->lnx.uid_mappings[0].host_id == 1000);
	CHECK(s->lnx.rootfs_propagation == MS_SLAVE && s->lnx.rootfs_propagation_recursive);
	CHECK(s->lnx.n_masked_paths == 1 && s->lnx.n_readonly_paths == 1);
	CHECK(s->lnx.seccomp != NULL);
	oci_spec_free(s);

	/* nulls mean "not given" */
	s = parse_ok("{\"root\":{\"path\":\"r\",\"readonly\":null},\"hostname\":null,\"mounts\":null}");
	if (s)
		CHECK(!s->root_readonly && !s->hostname && s->n_mounts == 0);
	oci_spec_free(s);
}

static void test_malformed(void)
{
	BAD("", "config.json: malformed JSON");
	BAD("{", "config.json: malformed JSON");
	BAD("{\"root\":{\"path\":\"r\"}", "config.json: malformed JSON");
	BAD("{\"root\":{\"path\":\"r\"}} x", "config.json: malformed JSON");
	BAD("{\"root\":{\"path\":\"r\"},}", "config.json: malformed JSON");
	BAD("{\"root\":{\"path\":\"r\"} \"x\":1}", "config.json: malformed JSON");
	BAD("{\"root\":{\"path\":\"r\"},\"hostname\":\"a\tb\"}", "hostname: \"a?b\" is not a valid host name");
	BAD("[]", "config.json: expected an object");
	BAD("null", "config.json");
	parse_bad("{\"root\":{\"path\":\"r\"}}\0", 23, "config.json: contains a NUL byte");
	/* nesting deeper than the tokenizer's limit */
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 199);
	deep[399] = '\0';
	BAD(deep, "config.json: malformed JSON");
	/* strings with escaped NUL */
	BAD("{\"root\":{\"path\":\"a\\u0000b\"}}", "root.path: contains a NUL byte");
}

static void test_bad_values(void)
{
	BAD("{}", "root: required");
	BAD("{\"root\":\"r\"}", "root: expected an object, got a string");
	BAD("{\"root\":{\"path\":\"\"}}", "root.path: empty path");
	BAD("{\"root\":{\"path\":7}}", "root.path: expected a string, got a number");
	BAD("{\"root\":{\"path\":\"r\",\"readonly\":\"yes\"}}", "root.readonly: expected a boolean");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\"},"
	    "{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"ro\",\"rbindx\"]}]}",
	    "mounts[1].options[1]: unknown option \"rbindx\"");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"size=1m\",3]}]}",
	    "mounts[0].options[1]: expected a string");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"type\":\"tmpfs\"}]}", "mounts[0].destination: required");
	/* idmap on a new filesystem used to reach the runtime, which tried to open_tree() "tmpfs" as a path */
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"idmap\"]}]}",
	    "mounts[0].options: idmap and ridmap need a bind mount");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\",\"options\":[\"rbind\"]}]}",
	    "mounts[0].source: required for a bind mount");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\"}]}", "mounts[0].type: required");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmp,fs\"}]}",
	    "mounts[0].type: \"tmp,fs\" is not a filesystem type");
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[7]}", "mounts[0]: expected an object");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[],\"cwd\":\"/\"}}", "process.args: needs at least");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"]}}", "process.cwd: required");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"tmp\"}}",
	    "process.cwd: \"tmp\" is not an absolute path");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}}",
	    "process.user.uid: must not be negative");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"uid\":4294967296}}}",
	    "process.user.uid: out of range");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"gid\":1.5}}}",
	    "process.user.gid: expected a number, got a fractional number");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"uid\":99999999999999999999999}}}",
	    "process.user.uid: out of range");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\"]}}",
	    "process.env[0]: not of the form NAME=value");
	BAD("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}}",
	    "process.rlimits[0].type: unknown resource");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
	    "linux.namespaces[1].type: namespace \"pid\" listed twice");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
	    "linux.namespaces[0].type: unknown namespace type");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":2}]}}",
	    "linux.uidMappings[0].size: empty, or the range");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"uidMappings\":[{\"containerID\":0,\"size\":2}]}}",
	    "linux.uidMappings[0].hostID: required");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"rootfsPropagation\":\"sideways\"}}",
	    "linux.rootfsPropagation: unknown propagation \"sideways\"");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"maskedPaths\":[\"proc/kcore\"]}}",
	    "linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path");
	BAD("{\"root\":{\"path\":\"r\"},\"linux\":{\"seccomp\":[]}}", "linux.seccomp: expected an object");
	BAD("{\"root\":{\"path\":\"r\"},\"hostname\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    "hostname: longer than 64 bytes");
	/* a long control-character option is shown cut and made printable */
	BAD("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"\\u0001\\u0002xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]}]}",
	    "mounts[0].options[0]: option \"??xxx");
}

static void test_error_buffer(void)
{
	/* a tiny error buffer is still NUL-terminated, and a NULL one is fine */
	struct oci_spec *s = NULL;
	char tiny[6];
	CHECK(oci_spec_parse("{}", 2, &s, tiny, sizeof(tiny)) == -EINVAL && strlen(tiny) == 5);
	CHECK(oci_spec_parse("{}", 2, &s, NULL, 0) == -EINVAL);
	oci_spec_free(NULL);
}

int main(void)
{
	test_good();
	test_malformed();
	test_bad_values();
	test_error_buffer();
	if (failures) {
		fprintf(stderr, "test-oci-spec: %d failures\n", failures);
		return 1;
	}
	printf("test-oci-spec: ok\n");
	return 0;
}
