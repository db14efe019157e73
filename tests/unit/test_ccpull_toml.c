/* ccpull.toml (the CDH config): every key, the kernel command line, multi-line strings, and the
 * public ccp_config API mapping onto ccp_pull_options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ccpull/ccpull.h"
#include "config/cdh_config.h"
#include "test.h"

/* Writes text to path: 0, or -1 and a failed check. */
static int put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0;

	if (f && fclose(f) != 0)
		ok = 0;
	CHECK(ok);
	return ok ? 0 : -1;
}

static int parse(ccp_cdh_config *c, const char *s, ccp_err *e)
{
	return ccp_cdh_config_parse(c, s, strlen(s), e);
}

static const char full[] =
	"socket = \"unix:///run/confidential-containers/cdh.sock\"\n"
	"[aa]\n"
	"aa_socket = \"unix:///run/aa.sock\"\n"
	"[kbc]\n"
	"name = \"cc_kbc\"\n"
	"url = \"https://kbs.example:8080\"\n"
	"kbs_cert = \"\"\"\n-----BEGIN CERTIFICATE-----\nKBS\n-----END CERTIFICATE-----\n\"\"\"\n"
	"[[credentials]]\n"
	"path = \"/run/confidential-containers/cdh/kbs/x\"\n"
	"resource_uri = \"kbs:///default/x/y\"\n"
	"[image]\n"
	"work_dir = \"/run/image-rs\"\n"
	"max_concurrent_layer_downloads_per_image = 4\n"
	"sigstore_config_uri = \"file:///etc/sigstore.yaml\"\n"
	"sigstore_config = \"default-docker:\\n  sigstore: file:///s\\n\"\n"
	"image_security_policy_uri = \"kbs:///default/security-policy/test\"\n"
	"image_security_policy = '''\n{\"default\": [{\"type\": \"reject\"}]}\n'''\n"
	"authenticated_registry_credentials_uri = \"file:///etc/auth.json\"\n"
	"registry_configuration_uri = \"/etc/registries.conf\"\n"
	"extra_root_certificates = [\"\"\"\n-----BEGIN CERTIFICATE-----\nONE\n-----END CERTIFICATE-----\n\"\"\",\n"
	"  \"-----BEGIN CERTIFICATE-----\\nTWO\\n-----END CERTIFICATE-----\"]\n"
	"some_undefined_field = \"unknown value\"\n"
	"[image.registry_config]\n"
	"unqualified-search-registries = [\"docker.io\", \"example1.com\"]\n"
	"[[image.registry_config.registry]]\n"
	"prefix = \"example.com/foo\"\n"
	"insecure = false\n"
	"blocked = false\n"
	"location = \"internal-registry-for-example.com/bar\"\n"
	"[[image.registry_config.registry.mirror]]\n"
	"location = \"example-mirror-0.local/mirror-for-foo\"\n"
	"[[image.registry_config.registry.mirror]]\n"
	"location = \"example-mirror-1.local/mirrors/foo\"\n"
	"insecure = true\n"
	"[[image.registry_config.registry]]\n"
	"prefix = \"example.com/banned\"\n"
	"blocked = true\n"
	"[image.image_pull_proxy]\n"
	"https_proxy = \"http://127.0.0.1:5432\"\n"
	"http_proxy = \"http://127.0.0.1:5433\"\n"
	"no_proxy = \"192.168.0.1,localhost\"\n"
	"[log]\n"
	"level = \"info\"\n";

static void test_every_key(void)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;

	CHECK(parse(&c, full, &e) == 0);
	if (e.msg[0])
		fprintf(stderr, "%s\n", e.msg);
	CHECK_STR(c.work_dir, "/run/image-rs");
	CHECK(c.max_layer_downloads == 4);
	CHECK_STR(c.sigstore_config_uri, "file:///etc/sigstore.yaml");
	CHECK_STR(c.sigstore_config, "default-docker:\n  sigstore: file:///s\n");
	CHECK_STR(c.policy_uri, "kbs:///default/security-policy/test");
	CHECK_STR(c.policy, "{\"default\": [{\"type\": \"reject\"}]}\n");
	CHECK_STR(c.auth_uri, "file:///etc/auth.json");
	CHECK_STR(c.registries_uri, "/etc/registries.conf");
	CHECK(c.n_extra_root_certificates == 2);
	if (c.n_extra_root_certificates == 2) {
		CHECK_STR(c.extra_root_certificates[0], "-----BEGIN CERTIFICATE-----\nONE\n-----END CERTIFICATE-----\n");
		CHECK_STR(c.extra_root_certificates[1], "-----BEGIN CERTIFICATE-----\nTWO\n-----END CERTIFICATE-----");
	}
	CHECK(c.has_registry_config);
	CHECK(c.registry_config.n_unqualified == 2);
	CHECK(c.registry_config.n_entries == 2);
	if (c.registry_config.n_entries == 2) {
		ccp_reg_entry *en = &c.registry_config.entries[0];
		CHECK_STR(en->prefix, "example.com/foo");
		CHECK_STR(en->location, "internal-registry-for-example.com/bar");
		CHECK(en->n_mirrors == 2 && !en->mirrors[0].insecure && en->mirrors[1].insecure);
		CHECK_STR(en->mirrors[1].location, "example-mirror-1.local/mirrors/foo");
		CHECK(c.registry_config.entries[1].blocked);
	}
	CHECK_STR(c.https_proxy, "http://127.0.0.1:5432");
	CHECK_STR(c.http_proxy, "http://127.0.0.1:5433");
	CHECK_STR(c.no_proxy, "192.168.0.1,localhost");
	CHECK_STR(c.kbc_name, "cc_kbc");
	CHECK_STR(c.kbs_url, "https://kbs.example:8080");
	CHECK_STR(c.kbs_cert, "-----BEGIN CERTIFICATE-----\nKBS\n-----END CERTIFICATE-----\n");
	CHECK_STR(c.aa_socket, "unix:///run/aa.sock");
	ccp_cdh_config_free(&c);

	/* dotted keys reach the same settings; "" is unset (kbs_cert = "" in CDH's examples) */
	CHECK(parse(&c, "image.work_dir = \"/w\"\nimage.image_pull_proxy.no_proxy = \"x\"\n"
			"image.registry_config.unqualified-search-registries = [\"quay.io\"]\n"
			"[kbc]\nname = \"offline_fs_kbc\"\nurl = \"\"\nkbs_cert = \"\"\n", &e) == 0);
	CHECK_STR(c.work_dir, "/w");
	CHECK_STR(c.no_proxy, "x");
	CHECK(c.has_registry_config && c.registry_config.n_unqualified == 1);
	CHECK(!c.kbs_url && !c.kbs_cert);
	ccp_cdh_config_free(&c);
	/* nothing ccpull knows: an empty configuration */
	CHECK(parse(&c, "[log]\nlevel = \"warn\"\n[kbc]\nname = \"offline_fs_kbc\"\n", &e) == 0);
	CHECK(!c.work_dir && !c.has_registry_config && !c.policy_uri);
	ccp_cdh_config_free(&c);
}

static void bad(const char *doc, const char *want)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;

	CHECK(parse(&c, doc, &e) == CCP_EINVALID);
	if (!strstr(e.msg, want)) {
		fprintf(stderr, "for %s: message \"%s\" lacks \"%s\"\n", doc, e.msg, want);
		CHECK(0);
	}
	CHECK(!c.work_dir && !c.has_registry_config);
}

static void test_errors(void)
{
	bad("[image]\nwork_dir = 3\n", "line 2: image.work_dir must be a string");
	bad("[image]\nimage_security_policy_uri = true\n", "image.image_security_policy_uri must be a string");
	bad("[image]\nmax_concurrent_layer_downloads_per_image = 0\n", "from 1 to 1024");
	bad("[image]\nmax_concurrent_layer_downloads_per_image = \"3\"\n", "from 1 to 1024");
	bad("[image]\nextra_root_certificates = \"x\"\n", "array of strings");
	bad("[image]\nextra_root_certificates = [1]\n", "array of strings");
	bad("[image]\nextra_root_certificates = [\"not a cert\"]\n", "entry 1 is not a PEM");
	bad("image.work_dir = \"/a\"\n[image]\nwork_dir = \"/b\"\n", "line 3: image.work_dir is set more than once");
	bad("[image]\nwork_dir = \"/a\"\nwork_dir = \"/b\"\n", "duplicate key");
	bad("[[image.registry_config]]\n", "must be a table");
	bad("[image]\nregistry_config = 1\n", "must be a table");
	bad("[image.registry_config]\n[[image.registry_config.registry]]\ninsecure = true\n",
	    "image.registry_config: registries.conf");
	bad("[image.registry_config]\n[[image.registry_config.registry]]\nlocation = \"a\"\nblocked = \"yes\"\n",
	    "\"blocked\" must be a boolean");
	bad("[aa]\naa_socket = [\"x\"]\n", "aa.aa_socket must be a string");
	bad("[kbc]\nurl = 1\n", "kbc.url must be a string");
	bad("[image]\nimage_security_policy = \"\"\"\nunterminated\n", "unterminated multi-line string");
	bad("[image]\nx = { a = 1 }\n", "inline tables");
}

static void test_multiline(void)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;

	/* TOML 1.0: first newline dropped, CRLF -> LF, line ending backslash, quotes before the end */
	CHECK(parse(&c, "[image]\r\nwork_dir = \"\"\"\r\na\\\r\n   \t\n  b\r\nc\\t\"\"\"\"\"\n"
			"sigstore_config = '''x\\n\"\"y'''''\n", &e) == 0);
	CHECK_STR(c.work_dir, "ab\nc\t\"\"");
	CHECK_STR(c.sigstore_config, "x\\n\"\"y''");
	ccp_cdh_config_free(&c);
	bad("[image]\nwork_dir = \"\"\"a\"\"\"\"\"\"\n", "too many quotes");
	bad("[image]\nwork_dir = \"\"\"a\x01\"\"\"\n", "control character");
	/* the line after a multi-line string is counted right */
	bad("[image]\nwork_dir = \"\"\"\n1\n2\n\"\"\"\nx = 1 2\n", "line 6:");
	/* not in keys, and not in registries.conf */
	bad("\"\"\"k\"\"\" = 1\n", "multi-line strings are not supported");
	{
		ccp_registries_conf rc;
		CHECK(ccp_registries_conf_parse(&rc, "x = '''a'''\n", 12, &e) == CCP_EINVALID);
	}
}

static void test_cmdline(void)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;
	const char *cl = "BOOT_IMAGE=/vmlinuz agent.no_proxy=localhost   \n agent.image_registry_auth=file:///a.json "
			 "agent.https_proxy=http://1.2.3.4:1234 agent.http_proxy=http://5.6.7.8:1 "
			 "agent.image_policy_file=file:///etc/image-policy.json console=ttyS0";
	char with[512];

	CHECK(ccp_cdh_config_from_cmdline(&c, cl, strlen(cl), &e) == 0);
	CHECK_STR(c.no_proxy, "localhost");
	CHECK_STR(c.https_proxy, "http://1.2.3.4:1234");
	CHECK_STR(c.http_proxy, "http://5.6.7.8:1");
	CHECK_STR(c.auth_uri, "file:///a.json");
	CHECK(c.policy_uri == NULL);  /* without agent.enable_signature_verification=true */
	ccp_cdh_config_free(&c);
	snprintf(with, sizeof(with), "%s agent.enable_signature_verification=true\n", cl);
	CHECK(ccp_cdh_config_from_cmdline(&c, with, strlen(with), &e) == 0);
	CHECK_STR(c.policy_uri, "file:///etc/image-policy.json");
	ccp_cdh_config_free(&c);
	snprintf(with, sizeof(with), "%s agent.enable_signature_verification=1", cl);
	CHECK(ccp_cdh_config_from_cmdline(&c, with, strlen(with), &e) == 0);
	CHECK(c.policy_uri == NULL);  /* Rust's bool parse: only "true" */
	ccp_cdh_config_free(&c);
	/* the last occurrence wins; a prefix of another key does not match */
	CHECK(ccp_cdh_config_from_cmdline(&c, "agent.no_proxyx=a agent.no_proxy=b agent.no_proxy=c", 52, &e) == 0);
	CHECK_STR(c.no_proxy, "c");
	ccp_cdh_config_free(&c);
}

static void test_format_roundtrip(void)
{
	ccp_cdh_config c;
	ccp_registries_conf rc;
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;

	CHECK(parse(&c, full, &e) == 0);
	CHECK(ccp_registries_conf_format(&c.registry_config, &b, &e) == 0);
	CHECK(ccp_registries_conf_parse(&rc, b.data, b.len, &e) == 0);
	CHECK(rc.n_entries == 2 && rc.n_unqualified == 2);
	if (rc.n_entries == 2) {
		CHECK_STR(rc.entries[0].location, "internal-registry-for-example.com/bar");
		CHECK(rc.entries[0].n_mirrors == 2 && rc.entries[0].mirrors[1].insecure);
		CHECK(rc.entries[1].blocked);
	}
	ccp_registries_conf_free(&rc);
	ccp_buf_free(&b);
	ccp_cdh_config_free(&c);
}

static char *slurp(const char *path)
{
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	if (ccp_read_file(&b, path, 1 << 20, &e) != 0)
		return NULL;
	return ccp_buf_detach(&b);
}

/* CDH's top-level skip_sealed_secret_verification (hub/src/config/mod.rs): a boolean, false by default. */
static void test_skip_sealed(void)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;

	CHECK(parse(&c, "[kbc]\nname = \"offline_fs_kbc\"\n", &e) == 0);
	CHECK(c.skip_sealed_secret_verification == 0);
	ccp_cdh_config_free(&c);
	CHECK(parse(&c, "skip_sealed_secret_verification = true\n[kbc]\nname = \"cc_kbc\"\n", &e) == 0);
	CHECK(c.skip_sealed_secret_verification == 1);
	ccp_cdh_config_free(&c);
	CHECK(parse(&c, "skip_sealed_secret_verification = false\n", &e) == 0);
	CHECK(c.skip_sealed_secret_verification == 0);
	ccp_cdh_config_free(&c);
	CHECK(parse(&c, "skip_sealed_secret_verification = \"true\"\n", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "skip_sealed_secret_verification must be true or false") != NULL);
	CHECK(parse(&c, "[image]\nskip_sealed_secret_verification = true\n", &e) == 0); /* only at the top */
	CHECK(c.skip_sealed_secret_verification == 0);
	ccp_cdh_config_free(&c);
	CHECK(ccp_config_skip_sealed_secret_verification(NULL) == 0);
	{
		char path[] = "/tmp/ccpull-toml-skip.XXXXXX";
		int fd = mkstemp(path);
		ccp_context *ctx = NULL;
		ccp_config *cfg = NULL;
		CHECK(fd >= 0 && write(fd, "skip_sealed_secret_verification = true\n", 39) == 39);
		CHECK(ccp_context_new(&ctx) == 0);
		CHECK(ccp_config_load(&cfg, ctx, path) == 0);
		CHECK(ccp_config_skip_sealed_secret_verification(cfg) == 1);
		ccp_config_free(cfg);
		ccp_context_free(ctx);
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
}

static void test_public_api(void)
{
	char dir[] = "/tmp/ccpull-toml-test.XXXXXX", path[256], *s;
	ccp_context *ctx = NULL;
	ccp_config *cfg = NULL;
	ccp_pull_options o;

	CHECK(mkdtemp(dir) != NULL);
	setenv("TMPDIR", dir, 1);
	CHECK(ccp_context_new(&ctx) == 0);
	snprintf(path, sizeof(path), "%s/cdh.toml", dir);
	if (put_file(path, "[aa]\naa_socket = \"unix:///run/aa.sock\"\n[kbc]\nname = \"cc_kbc\"\nurl = \"http://kbs:8080\"\n"
		     "kbs_cert = \"-----BEGIN CERTIFICATE-----\\nK\\n-----END CERTIFICATE-----\\n\"\n"
		     "[image]\nwork_dir = \"/run/image-rs\"\nimage_security_policy = '{\"default\": []}'\n"
		     "max_concurrent_layer_downloads_per_image = 3\nmax_decompression_ratio = 5000\n"
		     "store_sync = \"none\"\nparallel_ranges = 8\nparallel_ranges_min_mib = 64\n"
		     "sigstore_config = \"default-docker:\\n  sigstore: file:///sig\\n\"\n"
		     "authenticated_registry_credentials_uri = \"file:///etc/auth.json\"\n"
		     "registry_configuration_uri = \"/etc/ignored-registries.conf\"\n"
		     "extra_root_certificates = [\"-----BEGIN CERTIFICATE-----\\nA\\n-----END CERTIFICATE-----\"]\n"
		     "[image.registry_config]\n[[image.registry_config.registry]]\nlocation = \"r.example\"\ninsecure = true\n"
	      "[image.image_pull_proxy]\nhttps_proxy = \"http://p:3128\"\n") != 0)
		return;
	CHECK(ccp_config_load(&cfg, ctx, path) == 0);
	if (!cfg) {
		fprintf(stderr, "%s\n", ccp_context_last_error(ctx));
		ccp_context_free(ctx);
		return;
	}
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	o.registry.authfile = "/from/the/command/line.json";
	CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK_STR(o.store.dir, "/run/image-rs");
	CHECK(o.store.parallel_layers == 3);
	CHECK(o.store.max_decompression_ratio == 5000);
	CHECK(o.store.sync == CCP_STORE_SYNC_NONE);
	CHECK(o.registry.parallel_ranges == 8 && o.registry.parallel_ranges_min_mib == 64);
	CHECK_STR(o.registry.authfile, "/from/the/command/line.json");  /* the command line wins */
	CHECK_STR(o.kbs.url, "http://kbs:8080");
	CHECK(o.trust.policy && strncmp(o.trust.policy, dir, strlen(dir)) == 0);
	CHECK((s = o.trust.policy ? slurp(o.trust.policy) : NULL) && strcmp(s, "{\"default\": []}") == 0);
	free(s);
	CHECK((s = o.kbs.cert ? slurp(o.kbs.cert) : NULL) && strstr(s, "\nK\n"));
	free(s);
	CHECK((s = o.registry.ca_file ? slurp(o.registry.ca_file) : NULL) && strstr(s, "\nA\n"));
	free(s);
	CHECK((s = o.registry.registries_conf ? slurp(o.registry.registries_conf) : NULL) &&
	      strstr(s, "location = \"r.example\"") && strstr(s, "insecure = true"));
	free(s);
	snprintf(path, sizeof(path), "%s/sigstore.yaml", o.trust.registries_d ? o.trust.registries_d : "");
	CHECK((s = slurp(path)) && strstr(s, "file:///sig"));
	free(s);
	CHECK_STR(ccp_config_proxy(cfg, "https_proxy"), "http://p:3128");
	CHECK(ccp_config_proxy(cfg, "http_proxy") == NULL);
	CHECK_STR(ccp_config_aa_socket(cfg), "/run/aa.sock");
	snprintf(path, sizeof(path), "%s", o.trust.policy ? o.trust.policy : "");
	ccp_config_free(cfg);
	CHECK(access(path, F_OK) != 0);  /* the written documents go with the configuration */

	/* kbs:// for every *_uri key, as CDH: kept as URIs, fetched at pull time; offline_fs_kbc's file */
	snprintf(path, sizeof(path), "%s/kbs.toml", dir);
	put_file(path, "[kbc]\nname = \"offline_fs_kbc\"\n[image]\n"
		 "sigstore_config_uri = \"kbs:///default/sigstore-config/test\"\n"
		 "authenticated_registry_credentials_uri = \"kbs:///default/credential/test\"\n"
		 "registry_configuration_uri = \"kbs:///default/registry-configuration/test\"\n");
	cfg = NULL;
	CHECK(ccp_config_load(&cfg, ctx, path) == 0 && cfg);
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	if (cfg)
		CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK_STR(o.trust.registries_d, "kbs:///default/sigstore-config/test");
	CHECK_STR(o.registry.authfile, "kbs:///default/credential/test");
	CHECK_STR(o.registry.registries_conf, "kbs:///default/registry-configuration/test");
	CHECK_STR(o.kbs.resources, "/etc/aa-offline_fs_kbc-resources.json");
	CHECK(o.kbs.url == NULL);
	ccp_config_free(cfg);
	cfg = NULL;
	put_file(path, "[kbc]\nname = \"offline_fs_kbc\"\nurl = \"file:///run/offline.json\"\n[image]\n"
		 "sigstore_config_uri = \"kbs:///default/sigstore-config\"\n");
	CHECK(ccp_config_load(&cfg, ctx, path) == CCP_EINVALID && !cfg);
	CHECK(strstr(ccp_context_last_error(ctx), "sigstore_config_uri") != NULL);
	put_file(path, "[kbc]\nname = \"offline_fs_kbc\"\nurl = \"file:///run/offline.json\"\n");
	CHECK(ccp_config_load(&cfg, ctx, path) == 0 && cfg);
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	if (cfg)
		CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK_STR(o.kbs.resources, "/run/offline.json");
	ccp_config_free(cfg);
	cfg = NULL;
	put_file(path, "[image]\nimage_security_policy_uri = \"kbs:///default/security-policy/test\"\n"
		 "registry_configuration_uri = \"https://x/registries.conf\"\n");
	CHECK(ccp_config_load(&cfg, ctx, path) == CCP_EINVALID && !cfg);
	CHECK(strstr(ccp_context_last_error(ctx), "unsupported URI scheme") != NULL);
	CHECK(ccp_config_load(&cfg, ctx, "/nonexistent/ccpull.toml") == CCP_EINVALID && !cfg);

	/* the kernel command line; an unreadable one is an empty configuration */
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	put_file(path, "agent.enable_signature_verification=true agent.image_policy_file=kbs:///default/p/t "
		 "agent.image_registry_auth=file:///auth.json\n");
	CHECK(ccp_config_load_cmdline(&cfg, ctx, path) == 0 && cfg);
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	if (cfg)
		CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK_STR(o.trust.policy, "kbs:///default/p/t");
	CHECK_STR(o.registry.authfile, "/auth.json");
	ccp_config_free(cfg);
	CHECK(ccp_config_load_cmdline(&cfg, ctx, "/nonexistent/cmdline") == 0 && cfg);
	ccp_config_free(cfg);

	snprintf(path, sizeof(path), "%s/cdh.toml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/kbs.toml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	unlink(path);
	CHECK(rmdir(dir) == 0);  /* nothing else was left in TMPDIR */
	ccp_context_free(ctx);
}

/* CDH mode: socket, [ccpull] forward_socket, [[credentials]], cdh.kbs_resources, aa_kbc_params. */
static void test_cdh_keys(void)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;
	const char *cl = "x agent.aa_kbc_params=cc_kbc::http://first:1 agent.aa_kbc_params=cc_kbc::http://second:2 "
			 "cdh.kbs_resources=kbs:///a/b/c::" CCP_CDH_KBS_DIR "/k1,,no-separator,kbs:///d/e/f::"
			 CCP_CDH_KBS_DIR "/sub/k2 cdh.kbs_resources=kbs:///ignored/x/y::" CCP_CDH_KBS_DIR "/no";

	CHECK(parse(&c, full, &e) == 0);
	CHECK_STR(c.socket, "unix:///run/confidential-containers/cdh.sock");
	CHECK(c.n_credentials == 1 && c.has_kbc);
	if (c.n_credentials == 1) {
		CHECK_STR(c.credentials[0].path, "/run/confidential-containers/cdh/kbs/x");
		CHECK_STR(c.credentials[0].resource_uri, "kbs:///default/x/y");
	}
	ccp_cdh_config_free(&c);
	CHECK(parse(&c, "[ccpull]\nforward_socket = \"unix:///run/rust-cdh.sock\"\n[[credentials]]\npath = \"/p1\"\n"
		  "resource_uri = \"kbs:///1/2/3\"\nfuture = 1\n[[credentials]]\nresource_uri = \"kbs:///4/5/6\"\n"
		  "path = \"/p2\"\n[image]\n", &e) == 0);
	CHECK_STR(c.forward_socket, "unix:///run/rust-cdh.sock");
	CHECK(c.n_credentials == 2 && !c.has_kbc);
	if (c.n_credentials == 2)
		CHECK_STR(c.credentials[1].path, "/p2");
	ccp_cdh_config_free(&c);
	/* errors name the line */
	CHECK(parse(&c, "[[credentials]]\npath = \"/p\"\n[kbc]\n", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "line 1") && strstr(e.msg, "resource_uri"));
	CHECK(parse(&c, "[credentials]\npath = \"/p\"\n", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "array of tables") != NULL);
	CHECK(parse(&c, "credentials.path = \"/p\"\n", &e) == CCP_EINVALID);
	CHECK(parse(&c, "[[credentials]]\npath = 1\nresource_uri = \"kbs:///a/b/c\"\n", &e) == CCP_EINVALID);
	CHECK(parse(&c, "[[credentials]]\npath = \"/a\"\npath = \"/b\"\n", &e) == CCP_EINVALID);
	CHECK(parse(&c, "socket = 1\n", &e) == CCP_EINVALID);
	CHECK(parse(&c, "kbc.name = \"cc_kbc\"\n", &e) == 0 && c.has_kbc);
	ccp_cdh_config_free(&c);

	/* the kernel command line: the first occurrence of each, items without "::" skipped */
	CHECK(parse(&c, "", &e) == 0);
	CHECK(ccp_cdh_config_add_cmdline(&c, cl, strlen(cl), 1, &e) == 0);
	CHECK_STR(c.kbc_name, "cc_kbc");
	CHECK_STR(c.kbs_url, "http://first:1");
	CHECK(c.n_credentials == 2);
	if (c.n_credentials == 2) {
		CHECK_STR(c.credentials[0].resource_uri, "kbs:///a/b/c");
		CHECK_STR(c.credentials[1].path, CCP_CDH_KBS_DIR "/sub/k2");
	}
	/* AA_KBC_PARAMS overrides; exactly one "::" */
	CHECK(ccp_cdh_config_set_kbc(&c, "offline_fs_kbc::", &e) == 0);
	CHECK_STR(c.kbc_name, "offline_fs_kbc");
	CHECK_STR(c.kbs_url, "");
	CHECK(ccp_cdh_config_set_kbc(&c, "cc_kbc", &e) == CCP_EINVALID);
	CHECK(ccp_cdh_config_set_kbc(&c, "a::b::c", &e) == CCP_EINVALID);
	ccp_cdh_config_free(&c);
	/* with a [kbc] (or kbc=0) the command line's aa_kbc_params is not read */
	CHECK(parse(&c, "[kbc]\nname = \"offline_fs_kbc\"\n", &e) == 0);
	CHECK(ccp_cdh_config_add_cmdline(&c, cl, strlen(cl), 1, &e) == 0);
	CHECK_STR(c.kbc_name, "offline_fs_kbc");
	ccp_cdh_config_free(&c);
	CHECK(parse(&c, "", &e) == 0);
	CHECK(ccp_cdh_config_add_cmdline(&c, "agent.aa_kbc_params=bad", 23, 1, &e) == CCP_EINVALID);
	ccp_cdh_config_free(&c);

	/* hub/src/auth/kbs.rs is_path_valid, and not the directory itself or a sibling name */
	CHECK(ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/kms-credential/aliyun/config.toml"));
	CHECK(!ccp_cdh_credential_path_valid("/etc/config.toml"));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/../../config.toml"));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/kms-credential/../../../config.toml"));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/kms-credential/./config.toml"));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/x/.."));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/"));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "x/y"));
	CHECK(!ccp_cdh_credential_path_valid(CCP_CDH_KBS_DIR "/dir/"));
}

/* ccp_config_load_cdh: the defaults and checks of CDH mode. */
static void test_public_cdh(void)
{
	char dir[] = "/tmp/ccpull-toml-cdh.XXXXXX", path[256], cmd[256];
	ccp_context *ctx = NULL;
	ccp_config *cfg = NULL;
	ccp_pull_options o;

	CHECK(mkdtemp(dir) != NULL);
	setenv("TMPDIR", dir, 1);
	CHECK(ccp_context_new(&ctx) == 0);
	snprintf(path, sizeof(path), "%s/cdh.toml", dir);
	snprintf(cmd, sizeof(cmd), "%s/cmdline", dir);
	if (put_file(cmd, "quiet agent.aa_kbc_params=cc_kbc::http://127.0.0.1:1 cdh.kbs_resources=kbs:///r/t/g::"
		     CCP_CDH_KBS_DIR "/c\n") != 0)
		return;

	/* no file: the command line; the CDH defaults */
	CHECK(ccp_config_load_cdh(&cfg, ctx, NULL, cmd, NULL) == 0);
	CHECK(ccp_config_socket(cfg) == NULL && ccp_config_forward_socket(cfg) == NULL);
	CHECK(ccp_config_credential_count(cfg) == 1);
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK_STR(o.store.dir, "/run/kata-containers/image");
	CHECK_STR(o.kbs.url, "http://127.0.0.1:1");
	CHECK(o.trust.policy == NULL);
	ccp_config_free(cfg);
	cfg = NULL;
	/* AA_KBC_PARAMS wins over the command line */
	CHECK(ccp_config_load_cdh(&cfg, ctx, NULL, cmd, "offline_fs_kbc::") == 0);
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK(o.kbs.url == NULL);
	CHECK_STR(o.kbs.resources, "/etc/aa-offline_fs_kbc-resources.json");
	ccp_config_free(cfg);
	cfg = NULL;
	CHECK(ccp_config_load_cdh(&cfg, ctx, NULL, cmd, "nonsense") == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "AA_KBC_PARAMS") != NULL);

	/* a file: [kbc] required, its socket and forward_socket, its work_dir, AA_KBC_PARAMS wins */
	if (put_file(path, "socket = \"unix:///tmp/x/cdh.sock\"\n[ccpull]\nforward_socket = \"unix:///run/rust-cdh.sock\"\n"
		     "[kbc]\nname = \"offline_fs_kbc\"\n[image]\nwork_dir = \"/w\"\n") != 0)
		return;
	CHECK(ccp_config_load_cdh(&cfg, ctx, path, cmd, "cc_kbc::http://127.0.0.1:2") == 0);
	CHECK_STR(ccp_config_socket(cfg), "/tmp/x/cdh.sock");
	CHECK_STR(ccp_config_forward_socket(cfg), "/run/rust-cdh.sock");
	CHECK(ccp_config_credential_count(cfg) == 1);  /* cdh.kbs_resources also with a file */
	ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION);
	CHECK(ccp_config_apply(cfg, ctx, &o) == 0);
	CHECK_STR(o.store.dir, "/w");
	CHECK_STR(o.kbs.url, "http://127.0.0.1:2");
	ccp_config_free(cfg);
	cfg = NULL;
	if (put_file(path, "[image]\nwork_dir = \"/w\"\n") != 0)
		return;
	CHECK(ccp_config_load_cdh(&cfg, ctx, path, cmd, NULL) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "[kbc] is missing") != NULL);
	if (put_file(path, "socket = \"/tmp/no-scheme.sock\"\n[kbc]\nname = \"offline_fs_kbc\"\n") != 0)
		return;
	CHECK(ccp_config_load_cdh(&cfg, ctx, path, cmd, NULL) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "unix:///PATH") != NULL);
	if (put_file(path, "[kbc]\nname = \"offline_fs_kbc\"\n[[credentials]]\nresource_uri = \"kbs:///a/b/c\"\n"
		     "path = \"/etc/passwd\"\n") != 0)
		return;
	CHECK(ccp_config_load_cdh(&cfg, ctx, path, cmd, NULL) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "illegal path to put credential") != NULL);
	if (put_file(path, "[kbc]\nname = \"offline_fs_kbc\"\n[[credentials]]\nresource_uri = \"file:///etc/shadow\"\n"
		     "path = \"" CCP_CDH_KBS_DIR "/x\"\n") != 0)
		return;
	CHECK(ccp_config_load_cdh(&cfg, ctx, path, cmd, NULL) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "kbs:///") != NULL);
	CHECK(cfg == NULL);

	unlink(path);
	unlink(cmd);
	CHECK(rmdir(dir) == 0);
	ccp_context_free(ctx);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	test_every_key();
	test_errors();
	test_multiline();
	test_cmdline();
	test_format_roundtrip();
	test_skip_sealed();
	test_public_api();
	test_cdh_keys();
	test_public_cdh();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
