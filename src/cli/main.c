/* ccpull: a thin CLI over libccpull. It parses options, calls the library, prints, and exits with
 * the status of the library's error code (ccpull(1), EXIT STATUS). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccpull/ccpull.h"
#include "cli/options.h"

#define EXIT_USAGE 2

static const char *prog = "ccpull";

static const char usage_text[] =
	"Usage: ccpull [--help] [--version] COMMAND [OPTIONS] ARGS\n"
	"\n"
	"Pull container images inside a confidential guest: fetch from an OCI registry, verify every\n"
	"digest, unpack the layers safely and hand a bundle (rootfs + config.json) to the runtime.\n"
	"\n"
	"Commands:\n"
	"  pull [OPTIONS] IMAGE BUNDLE   pull IMAGE and create BUNDLE/rootfs and BUNDLE/config.json\n"
	"                                (BUNDLE holds neither yet; one pull at a time into it)\n"
	"  inspect [OPTIONS] IMAGE       show an image's manifest digest, platforms and config (no layers)\n"
	"  verify [OPTIONS] IMAGE        evaluate the signature policy for IMAGE and show what was checked\n"
	"  umount BUNDLE                 unmount an overlay bundle and remove its writable state\n"
	"  serve [--socket PATH] [OPTIONS]   serve kata-agent's ttrpc ImagePullService (see serve --help)\n"
	"  store ls [--store DIR] [--json]   images, layers (sizes, in use or not) and mounted bundles\n"
	"  store rm [--store DIR] IMAGE  forget an image (reference or manifest digest); layers go at gc\n"
	"  store gc [--store DIR] [--json]   remove layers no image or mounted bundle uses, and leftovers\n"
	"\n"
	"Options of pull and inspect:\n"
	"  --insecure-policy          accept any image without evaluating a signature policy\n"
	"  --policy PATH              containers-policy.json to enforce (default /etc/containers/policy.json)\n"
	"  --tls-verify=false         do not verify TLS certificates; allow plain HTTP to the registry\n"
	"  --ca-file PATH             extra CA certificates (PEM) trusted for registries\n"
	"  --registries-conf PATH     registries.conf (default /etc/containers/registries.conf if present)\n"
	"  --registries-d DIR         registries.d: where signatures are looked up (default /etc/containers/registries.d)\n"
	"  --authfile PATH            containers-auth.json with registry credentials\n"
	"  --creds USER[:PASSWORD]    credentials for the registry (override --authfile)\n"
	"  --platform OS/ARCH[/VAR]   platform to pick from a multi-platform image (default: this machine);\n"
	"                             a pull of a single-platform image for another platform fails (exit 4)\n"
	"  --config PATH              ccpull.toml: the Confidential Data Hub's config ([image], [kbc]);\n"
	"                             options given on the command line win over the file\n"
	"  --json                     print the result as one JSON object on stdout\n"
	"  --retry-times N            retry a failed registry request up to N times (default 3, at most 20)\n"
	"  --timeout SECONDS          give up when the whole pull or inspect takes longer (default: no limit)\n"
	"Options of pull only:\n"
	"  --store DIR                layer store (default /run/ccpull/store); layers are reused across pulls\n"
	"  --snapshotter overlay|copy BUNDLE/rootfs as an overlay mount of the store's layers (the default\n"
	"                             as root when the kernel has overlayfs) or as a plain directory\n"
	"  --parallel-layers N        layers fetched and unpacked at once (default: one per CPU, at most 4)\n"
	"  -q, --quiet                no progress output\n"
	"  --decryption-key jwe:PATH[:PASSWORD] | pkcs7:PATH[:PASSWORD] | pgp:PATH[:PASSWORD] | provider:NAME[:PARAMS]\n"
	"                             key for encrypted layers (repeatable; every key is tried per layer);\n"
	"                             pkcs7 needs the private key and its certificate (one file or two specs)\n"
	"  --keyprovider-config PATH  ocicrypt keyprovider config (default $OCICRYPT_KEYPROVIDER_CONFIG)\n"
	"  --kbs URL                  Trustee KBS: kbs:///REPO/TYPE/TAG resources (--policy and its keys,\n"
	"                             --registries-d, --authfile, --registries-conf, --ca-file) and the CoCo\n"
	"                             key provider attestation-agent's KEKs are released after attestation\n"
	"  --attester auto|sample|tdx|snp|aa  evidence for the KBS: tdx and snp through configfs-tsm, aa from\n"
	"                             the attestation agent; auto: the TEE device found, else aa when the\n"
	"                             agent's socket exists, else sample\n"
	"  --aa-socket PATH           the attestation agent's ttrpc socket (default [aa] aa_socket, else\n"
	"                             /run/confidential-containers/attestation-agent/attestation-agent.sock)\n"
	"  --kbs-cert PATH            CA certificates (PEM) for the KBS's HTTPS (without it: the system's);\n"
	"                             plain HTTP only for a --kbs http:// URL\n"
	"  --kbs-resources FILE       offline kbs:/// resources and KEKs: {\"REPO/TYPE/TAG\": \"<base64>\"}\n"
	"                             (aa-offline_fs_kbc-resources.json), asked before the KBS or instead of it\n"
	"  --kbs-key ec|rsa           the KBS session's ephemeral key: EC P-256 (default) or RSA 2048\n"
	"Options of inspect only (it also takes the --kbs options, for kbs:/// resources):\n"
	"  --raw                      print the top-level manifest exactly as verified\n"
	"  --image-config             print the image config exactly as verified\n"
	"\n"
	"IMAGE is a docker reference: busybox, registry.example.com:5000/app:1.2, app@sha256:<hex>.\n"
	"\n"
	"Examples:\n"
	"  ccpull pull --insecure-policy docker.io/library/busybox:latest /run/bundles/c1\n"
	"  ccpull pull --insecure-policy --tls-verify=false 127.0.0.1:5000/app:1 /tmp/b --json\n"
	"  ccpull inspect --tls-verify=false --platform linux/arm64 127.0.0.1:5000/app:1\n"
	"\n"
	"Exit status: 0 ok, 1 internal error, 2 usage or invalid configuration, 3 rejected by policy,\n"
	"4 registry/network/auth, 5 integrity (digest, size, diff_id), 6 decryption or keys,\n"
	"7 unsafe or malformed layer content, 8 local storage.\n"
	"See ccpull(1) for details.\n";

#define usage_error(...) cli_usage_error(NULL, __VA_ARGS__)

static int fail(ccp_context *ctx, int code)
{
	fprintf(stderr, "%s: %s\n", prog, ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx)
									   : ccp_strerror(code));
	return ccp_exit_status(code);
}

/* ---- progress on a terminal ---- */

typedef struct progress_state {
	pthread_mutex_t lock;
	struct timespec last;
	uint64_t start_done;
	struct timespec start;
} progress_state;

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void human(char *out, size_t n, double bytes)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void on_progress(const ccp_progress_event *ev, void *payload)
{
	progress_state *ps = payload;
	struct timespec now;
	char done[32], total[32], rate[32];
	const char *short_digest = ev->digest ? ev->digest + 7 : "";

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&ps->lock);
	switch (ev->kind) {
	case CCP_PROGRESS_LAYER_START:
		ps->start = now;
		ps->last = now;
		break;
	case CCP_PROGRESS_LAYER_BYTES:
		if (elapsed(&ps->last, &now) < 0.1)
			break;
		ps->last = now;
		human(done, sizeof(done), (double)ev->done);
		human(total, sizeof(total), (double)ev->total);
		human(rate, sizeof(rate), (double)ev->done / (elapsed(&ps->start, &now) + 1e-9));
		fprintf(stderr, "\r\033[Klayer %zu/%zu %.12s  %s / %s  %s/s", ev->layer_index + 1, ev->layer_count,
			short_digest, done, total, rate);
		break;
	case CCP_PROGRESS_LAYER_DONE:
		human(total, sizeof(total), (double)ev->total);
		fprintf(stderr, "\r\033[Klayer %zu/%zu %.12s  %s  %s\n", ev->layer_index + 1, ev->layer_count,
			short_digest, total, ev->reused ? "already in the store" : "verified");
		break;
	case CCP_PROGRESS_ROOTFS:
		fprintf(stderr, "assembling rootfs\n");
		break;
	}
	pthread_mutex_unlock(&ps->lock);
}

/* ---- options of pull and inspect ---- */

enum { OPT_JSON = CLI_OPT_LOCAL, OPT_RAW, OPT_IMAGE_CONFIG, OPT_HELP };

static const struct option long_opts[] = {
	CLI_SHARED_LONG_OPTIONS,
	{ "json", no_argument, NULL, OPT_JSON },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "image-config", no_argument, NULL, OPT_IMAGE_CONFIG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

typedef struct cli_opts {
	cli_image_opts img;
	int json, quiet, raw, config;
} cli_opts;

static void parse_options(cli_opts *c, int argc, char **argv, int is_pull)
{
	const char *command = is_pull ? "pull" : "inspect";
	/* inspect takes the KBS options for kbs:/// --authfile, --registries-conf and --ca-file */
	unsigned groups = is_pull ? CLI_GROUP_IMAGE | CLI_GROUP_KBS | CLI_GROUP_LAYERS : CLI_GROUP_IMAGE | CLI_GROUP_KBS;
	int ch;

	cli_image_opts_init(&c->img);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+q", long_opts, NULL)) != -1) {
		if (cli_image_option(&c->img, ch, optarg, groups, command))
			continue;
		switch (ch) {
		case OPT_JSON: c->json = 1; break;
		case OPT_HELP: fputs(usage_text, stdout); exit(0);
		case 'q':
			if (!is_pull)
				usage_error("-q applies to pull only");
			c->quiet = 1;
			break;
		case OPT_RAW:
		case OPT_IMAGE_CONFIG:
			if (is_pull)
				usage_error("%s applies to inspect only", argv[optind - 1]);
			if (ch == OPT_RAW)
				c->raw = 1;
			else
				c->config = 1;
			break;
		default:
			usage_error("invalid option");
		}
	}
}

static int print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!s) {
		json_decref(j);
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	puts(s);
	free(s);
	json_decref(j);
	return 0;
}

static int cmd_pull(int argc, char **argv)
{
	cli_opts c = { 0 };
	progress_state ps = { PTHREAD_MUTEX_INITIALIZER, { 0, 0 }, 0, { 0, 0 } };
	ccp_context *ctx = NULL;
	ccp_pull_result *res = NULL;
	int r;

	parse_options(&c, argc, argv, 1);
	if (argc - optind != 2)
		usage_error("pull needs IMAGE and BUNDLE (got %d arguments)", argc - optind);
	if (!c.quiet && isatty(STDERR_FILENO)) {
		c.img.pull.progress = on_progress;
		c.img.pull.progress_payload = &ps;
	}
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	if ((r = cli_load_config(&c.img, ctx, 0, "pull")) != 0) {
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	r = ccp_pull(&res, ctx, argv[optind], argv[optind + 1], &c.img.pull);
	if (r != 0) {
		if (c.img.pull.progress)
			fputc('\n', stderr);
		r = fail(ctx, r);
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	if (c.json) {
		json_t *layers = json_array();
		for (size_t i = 0; layers && i < ccp_pull_result_layer_count(res); i++)
			json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:s, s:b}",
				"digest", ccp_pull_result_layer_digest(res, i),
				"diff_id", ccp_pull_result_layer_diff_id(res, i),
				"size", (json_int_t)ccp_pull_result_layer_size(res, i),
				"media_type", ccp_pull_result_layer_media_type(res, i),
				"reused", ccp_pull_result_layer_reused(res, i)));
		const char *spec = ccp_pull_result_config_json(res);
		json_t *config = spec ? json_loads(spec, 0, NULL) : NULL;
		r = print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "image", ccp_pull_result_image(res),
					 "manifest_digest", ccp_pull_result_manifest_digest(res),
					 "config_digest", ccp_pull_result_config_digest(res),
					 "platform", ccp_pull_result_platform(res),
					 "snapshotter", ccp_pull_result_snapshotter(res),
					 "rootfs", ccp_pull_result_rootfs(res), "layers", layers,
					 "config_path", ccp_pull_result_config_path(res),
					 "config", config ? config : json_null()));
	} else if (!c.quiet && isatty(STDERR_FILENO)) {
		fprintf(stderr, "pulled %s (%s) into %s\n", ccp_pull_result_image(res),
			ccp_pull_result_manifest_digest(res), ccp_pull_result_rootfs(res));
	}
	ccp_pull_result_free(res);
	cli_image_opts_free(&c.img);
	ccp_context_free(ctx);
	return r;
}

static void print_config_summary(const char *cfg, size_t len)
{
	json_t *j = json_loadb(cfg, len, 0, NULL);
	json_t *c = j ? json_object_get(j, "config") : NULL;
	const char *keys[] = { "Entrypoint", "Cmd", "Env", "WorkingDir", "User", "ExposedPorts", "Labels" };

	for (size_t i = 0; json_is_object(c) && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(c, keys[i]);
		char *s;
		if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
			continue;
		if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))) {
			printf("%-11s %s\n", keys[i], s);
			free(s);
		}
	}
	json_decref(j);
}

static int cmd_inspect(int argc, char **argv)
{
	cli_opts c = { 0 };
	ccp_context *ctx = NULL;
	ccp_inspect_result *res = NULL;
	size_t len, n;
	const char *data;
	int r = 0;

	parse_options(&c, argc, argv, 0);
	if (argc - optind != 1)
		usage_error("inspect needs exactly one IMAGE (got %d arguments)", argc - optind);
	if (c.raw + c.config + c.json > 1)
		usage_error("--raw, --image-config and --json are exclusive");
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	if ((r = cli_load_config(&c.img, ctx, 0, "inspect")) != 0) {
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	if ((r = ccp_inspect(&res, ctx, argv[optind], &c.img.pull)) != 0) {
		r = fail(ctx, r);
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	n = ccp_inspect_result_platform_count(res);
	if (c.raw || c.config) {
		data = c.raw ? ccp_inspect_result_raw(res, &len) : ccp_inspect_result_config(res, &len);
		fwrite(data, 1, len, stdout);
	} else if (c.json) {
		json_t *platforms = json_array(), *cfg;
		data = ccp_inspect_result_config(res, &len);
		cfg = json_loadb(data, len, 0, NULL);
		for (size_t i = 0; platforms && i < n; i++)
			json_array_append_new(platforms, json_string(ccp_inspect_result_platform(res, i)));
		r = print_json(json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o}", "image", ccp_inspect_result_image(res),
					 "manifest_digest", ccp_inspect_result_digest(res),
					 "media_type", ccp_inspect_result_media_type(res), "platforms", platforms,
					 "image_manifest_digest", ccp_inspect_result_manifest_digest(res),
					 "config_digest", ccp_inspect_result_config_digest(res),
					 "config", cfg ? cfg : json_null()));
	} else {
		printf("%-11s %s\n", "Image", ccp_inspect_result_image(res));
		printf("%-11s %s\n", "Digest", ccp_inspect_result_digest(res));
		printf("%-11s %s\n", "MediaType", ccp_inspect_result_media_type(res));
		if (n) {
			printf("%-11s", "Platforms");
			for (size_t i = 0; i < n; i++)
				printf("%s%s", i ? ", " : " ", ccp_inspect_result_platform(res, i));
			printf("\n%-11s %s\n", "Manifest", ccp_inspect_result_manifest_digest(res));
		}
		printf("%-11s %s\n", "Config", ccp_inspect_result_config_digest(res));
		data = ccp_inspect_result_config(res, &len);
		print_config_summary(data, len);
	}
	ccp_inspect_result_free(res);
	cli_image_opts_free(&c.img);
	ccp_context_free(ctx);
	return r;
}

/* ---- store and umount ---- */

static ccp_context *new_context(void)
{
	ccp_context *ctx = NULL;

	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(1);
	}
	return ctx;
}

static int store_ls(ccp_context *ctx, const char *store, int json)
{
	ccp_store_info *info = NULL;
	json_t *images, *layers, *bundles;
	char used[32], size[32];
	int r;

	if ((r = ccp_store_info_load(&info, ctx, store)) != 0)
		return fail(ctx, r);
	if (!json) {
		printf("%-40s %-19s %s\n", "IMAGE", "MANIFEST", "LAYERS");
		for (size_t i = 0; i < ccp_store_info_image_count(info); i++) {
			const ccp_store_image *im = ccp_store_info_image(info, i);
			printf("%-40s %-19.19s %zu\n", im->image, im->manifest_digest, im->layer_count);
		}
		printf("\n%-19s %10s %10s %s\n", "LAYER", "BLOB", "DISK", "USED BY");
		for (size_t i = 0; i < ccp_store_info_layer_count(info); i++) {
			const ccp_store_layer *l = ccp_store_info_layer(info, i);
			human(size, sizeof(size), (double)l->size);
			human(used, sizeof(used), (double)l->disk_usage);
			printf("%-19.19s %10s %10s ", l->chain_id, size, used);
			if (l->images + l->bundles)
				printf("%zu image(s), %zu mounted bundle(s)\n", l->images, l->bundles);
			else
				printf("unused\n");
		}
		for (size_t i = 0; i < ccp_store_info_bundle_count(info); i++) {
			const ccp_store_bundle *bd = ccp_store_info_bundle(info, i);
			printf("%sbundle %s (%s)%s\n", i ? "" : "\n", bd->bundle, bd->image, bd->live ? "" : " not mounted");
		}
		ccp_store_info_free(info);
		return 0;
	}
	images = json_array();
	layers = json_array();
	bundles = json_array();
	for (size_t i = 0; images && i < ccp_store_info_image_count(info); i++) {
		const ccp_store_image *im = ccp_store_info_image(info, i);
		json_array_append_new(images, json_pack("{s:s, s:s, s:s, s:I, s:I}", "image", im->image,
							"manifest_digest", im->manifest_digest, "config_digest",
							im->config_digest, "last_used", (json_int_t)im->last_used,
							"layers", (json_int_t)im->layer_count));
	}
	for (size_t i = 0; layers && i < ccp_store_info_layer_count(info); i++) {
		const ccp_store_layer *l = ccp_store_info_layer(info, i);
		json_array_append_new(layers, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "chain_id",
							l->chain_id, "diff_id", l->diff_id, "digest", l->digest, "size",
							(json_int_t)l->size, "disk_usage", (json_int_t)l->disk_usage,
							"images", (json_int_t)l->images, "bundles", (json_int_t)l->bundles,
							"in_use", l->images + l->bundles > 0));
	}
	for (size_t i = 0; bundles && i < ccp_store_info_bundle_count(info); i++) {
		const ccp_store_bundle *bd = ccp_store_info_bundle(info, i);
		json_array_append_new(bundles, json_pack("{s:s, s:s, s:b}", "bundle", bd->bundle, "image", bd->image,
							 "live", bd->live));
	}
	ccp_store_info_free(info);
	return print_json(json_pack("{s:o*, s:o*, s:o*}", "images", images, "layers", layers, "bundles", bundles));
}

static int cmd_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, CLI_OPT_STORE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *verb, *store = NULL;
	ccp_context *ctx;
	int ch, json = 0, r;

	if (argc < 2)
		usage_error("store needs a verb: ls, rm or gc");
	verb = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_STORE: store = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_HELP: fputs(usage_text, stdout); exit(0);
		default: usage_error("invalid option");
		}
	}
	ctx = new_context();
	if (strcmp(verb, "ls") == 0) {
		if (argc != optind)
			usage_error("store ls takes no arguments");
		r = store_ls(ctx, store, json);
	} else if (strcmp(verb, "rm") == 0) {
		size_t n = 0;
		if (argc - optind != 1)
			usage_error("store rm needs exactly one IMAGE");
		if ((r = ccp_store_remove_image(ctx, store, argv[optind], &n)) != 0)
			r = fail(ctx, r);
		else if (json)
			r = print_json(json_pack("{s:I}", "removed", (json_int_t)n));
	} else if (strcmp(verb, "gc") == 0) {
		ccp_store_gc_stats st = CCP_STORE_GC_STATS_INIT;
		char freed[32];
		if (argc != optind)
			usage_error("store gc takes no arguments");
		if ((r = ccp_store_gc(ctx, store, &st)) != 0) {
			r = fail(ctx, r);
		} else if (json) {
			r = print_json(json_pack("{s:I, s:I, s:I}", "layers_removed", (json_int_t)st.layers_removed,
						 "bytes_freed", (json_int_t)st.bytes_freed, "stale_removed",
						 (json_int_t)st.stale_removed));
		} else {
			human(freed, sizeof(freed), (double)st.bytes_freed);
			printf("removed %zu layer(s) (%s) and %zu stale entr%s\n", st.layers_removed, freed,
			       st.stale_removed, st.stale_removed == 1 ? "y" : "ies");
		}
	} else {
		usage_error("unknown store verb \"%s\" (ls, rm or gc)", verb);
	}
	ccp_context_free(ctx);
	return r;
}

static int cmd_umount(int argc, char **argv)
{
	ccp_context *ctx;
	int r;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc != 2)
		usage_error("umount needs exactly one BUNDLE");
	ctx = new_context();
	if ((r = ccp_bundle_umount(ctx, argv[1])) != 0)
		r = fail(ctx, r);
	ccp_context_free(ctx);
	return r;
}

int cmd_serve(int argc, char **argv); /* serve.c */
int cmd_verify(int argc, char **argv); /* verify.c */

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage_error("a command is required");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("ccpull %s\n", ccp_version());
		return 0;
	}
	if (strcmp(cmd, "pull") == 0)
		return cmd_pull(argc - 1, argv + 1);
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "store") == 0)
		return cmd_store(argc - 1, argv + 1);
	if (strcmp(cmd, "umount") == 0)
		return cmd_umount(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	usage_error("unknown command \"%s\"", cmd);
}
