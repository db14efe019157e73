/* ccpull: a thin CLI over libccpull. It parses options, calls the library, prints, and exits with
 * the status of the library's error code (ccpull(1), EXIT STATUS). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ccpull/ccpull.h"
#include "options.h"

#define EXIT_USAGE 2

static const char *prog = "ccpull";

/* Help texts: the global one and each command's, from the same pieces. */
#define HELP_COMMANDS \
	"Commands:\n" \
	"  pull [OPTIONS] IMAGE BUNDLE   pull IMAGE and create BUNDLE/rootfs and BUNDLE/config.json\n" \
	"                                (BUNDLE holds neither yet; one pull at a time into it)\n" \
	"  inspect [OPTIONS] IMAGE       show an image's manifest digest, platforms and config (no layers)\n" \
	"  verify [OPTIONS] IMAGE        evaluate the signature policy for IMAGE and show what was checked\n" \
	"  umount BUNDLE                 unmount an overlay bundle and remove its writable state\n" \
	"  serve [--socket PATH] [OPTIONS]   serve kata-agent's ttrpc ImagePullService (see serve --help)\n" \
	"  cdh [-c FILE]                 be the Confidential Data Hub kata-agent starts (see cdh --help);\n" \
	"                                also when run as confidential-data-hub\n" \
		"  store ls [--store DIR] [--json]   images, layers (sizes, in use or not), mounted bundles, staging\n" \
	"  store rm [--store DIR] IMAGE  forget an image (reference or manifest digest); layers go at gc\n" \
	"  store gc [--store DIR] [--json]   remove layers no image or mounted bundle uses, and leftovers\n" \
	"                                (staging of killed pulls), saying the bytes freed\n" \
	"SIGINT or SIGTERM stops a command, removes what a pull made and exits 130 or 143.\n"

#define HELP_IMAGE_OPTIONS \
	"  --insecure-policy          accept any image without evaluating a signature policy\n" \
	"  --policy PATH              containers-policy.json to enforce (default /etc/containers/policy.json)\n" \
	"  --tls-verify=false         do not verify TLS certificates; allow plain HTTP to the registry\n" \
	"  --ca-file PATH             extra CA certificates (PEM) trusted for registries\n" \
	"  --registries-conf PATH     registries.conf (default /etc/containers/registries.conf if present)\n" \
	"  --registries-d DIR         registries.d: where signatures are looked up (default /etc/containers/registries.d)\n" \
	"                             (a lookaside store: at most 128 signatures, 16 MiB in all, within --timeout;\n" \
	"                             each checked as it arrives, none read once the policy is met)\n" \
	"  --authfile PATH            containers-auth.json with registry credentials\n" \
	"  --creds USER:PASSWORD      credentials for the registry (override --authfile)\n" \
	"  --platform OS/ARCH[/VAR]   platform to pick from a multi-platform image (default: this machine);\n" \
	"                             a pull of a single-platform image for another platform fails (exit 4)\n" \
	"  --config PATH              ccpull.toml: the Confidential Data Hub's config ([image], [kbc]);\n" \
	"                             options given on the command line win over the file\n" \
	"  --json                     print the result as one JSON object on stdout\n" \
	"  --retry-times N            retry a failed registry request up to N times (default 3, at most 20)\n" \
	"  --timeout SECONDS          give up when the whole pull or inspect takes longer, whatever it is\n" \
	"                             doing (default: no limit; exit 9 outside registry and KBS exchanges)\n"

#define HELP_LAYER_OPTIONS \
	"  --store DIR                layer store (default /run/ccpull/store); layers are reused across pulls\n" \
	"  --snapshotter overlay|copy BUNDLE/rootfs as an overlay mount of the store's layers (the default\n" \
	"                             as root when the kernel has overlayfs) or as a plain directory\n" \
	"  --store-sync none|full     what a layer's commit guarantees: none (default on tmpfs): whole layers\n" \
	"                             before they are visible, as long as the machine runs; full (default\n" \
	"                             elsewhere): also on the disk first (syncfs), surviving a power loss\n" \
	"  --parallel-layers N        layers fetched and unpacked at once (default: one per CPU, at most 4)\n" \
	"  --parallel-ranges N        a large blob as N Range requests at once, verified in order as one\n" \
	"                             stream (at most 16; default 1: one stream), for registries that\n" \
	"                             cap each connection; N x 4 MiB of memory\n" \
	"  --parallel-ranges-min-mib M  only blobs of at least M MiB (default 128)\n" \
	"  --max-decompression-ratio N  a layer past 512 MiB decompressed may be at most N times its\n" \
	"                             compressed size (default 100; raise for images of sparse files)\n" \
	"  -q, --quiet                no progress output\n" \
	"  --decryption-key jwe:PATH[:PASSWORD] | pkcs7:PATH[:PASSWORD] | pgp:PATH[:PASSWORD] | provider:NAME[:PARAMS]\n" \
	"                             key for encrypted layers (repeatable; every key is tried per layer);\n" \
	"                             pkcs7 needs the private key and its certificate (one file or two specs)\n" \
	"  --keyprovider-config PATH  ocicrypt keyprovider config (default $OCICRYPT_KEYPROVIDER_CONFIG):\n" \
	"                             cmd, grpc, ttrpc and native entries\n"

#define HELP_KBS_OPTIONS \
	"  --kbs URL                  Trustee KBS: kbs:///REPO/TYPE/TAG resources (--policy and its keys,\n" \
	"                             --registries-d, --authfile, --registries-conf, --ca-file) and the CoCo\n" \
	"                             key provider attestation-agent's KEKs are released after attestation\n" \
	"  --attester auto|sample|tdx|snp|aa  evidence for the KBS: tdx and snp through configfs-tsm, aa: the\n" \
	"                             attestation agent's KBS token (GetToken, as CDH); auto: aa when the\n" \
	"                             agent's socket exists, else the TEE device found, else sample\n" \
	"  --aa-socket PATH           the attestation agent's ttrpc socket (default [aa] aa_socket, else\n" \
	"                             /run/confidential-containers/attestation-agent/attestation-agent.sock)\n" \
	"  --kbs-cert PATH            CA certificates (PEM) for the KBS's HTTPS (without it: the system's);\n" \
	"                             plain HTTP only for a --kbs http:// URL\n" \
	"  --kbs-resources FILE       offline kbs:/// resources and KEKs: {\"REPO/TYPE/TAG\": \"<base64>\"}\n" \
	"                             (aa-offline_fs_kbc-resources.json), asked before the KBS or instead of it;\n" \
	"                             a file of that name adds aa-offline_fs_kbc-keys.json beside it and\n" \
	"                             the files of $OFFLINE_FS_KBC_EXTRA_FILE_PATH\n" \
	"  --kbs-key ec|rsa           the KBS session's ephemeral key: EC P-256 (default) or RSA 2048\n"

#define HELP_INSPECT_OPTIONS \
	"  --raw                      print the top-level manifest exactly as verified\n" \
	"  --image-config             print the image config exactly as verified\n"

#define HELP_EXIT_STATUS \
	"Exit status: 0 ok, 1 internal error, 2 usage or invalid configuration, 3 rejected by policy,\n" \
	"4 registry/network/auth, 5 integrity (digest, size, diff_id), 6 decryption or keys,\n" \
	"7 unsafe or malformed layer content, 8 local storage, 9 --timeout ran out outside a registry\n" \
	"or KBS exchange, 130/143 interrupted by SIGINT/SIGTERM (what the pull made is removed).\n"

static const char usage_text[] =
	"Usage: ccpull [--help] [--version] COMMAND [OPTIONS] ARGS\n"
	"\n"
	"Pull container images inside a confidential guest: fetch from an OCI registry, verify every\n"
	"digest, unpack the layers safely and hand a bundle (rootfs + config.json) to the runtime.\n"
	"\n"
	HELP_COMMANDS
	"\n"
	"Options of pull and inspect:\n"
	HELP_IMAGE_OPTIONS
	"Options of pull only:\n"
	HELP_LAYER_OPTIONS
	HELP_KBS_OPTIONS
	"Options of inspect only (it also takes the --kbs options, for kbs:/// resources):\n"
	HELP_INSPECT_OPTIONS
	"\n"
	"Options may follow the operands; \"--\" ends the options. 'ccpull COMMAND --help' shows one\n"
	"command's options.\n"
	"\n"
	"IMAGE is a docker reference: busybox, registry.example.com:5000/app:1.2, app@sha256:<hex>.\n"
	"\n"
	"Examples:\n"
	"  ccpull pull --insecure-policy docker.io/library/busybox:latest /run/bundles/c1\n"
	"  ccpull pull --insecure-policy --tls-verify=false 127.0.0.1:5000/app:1 /tmp/b --json\n"
	"  ccpull inspect --tls-verify=false --platform linux/arm64 127.0.0.1:5000/app:1\n"
	"\n"
	HELP_EXIT_STATUS
	"See ccpull(1) for details.\n";

static const char pull_usage[] =
	"Usage: ccpull pull [OPTIONS] IMAGE BUNDLE\n"
	"\n"
	"Pull IMAGE: resolve its manifest, evaluate the signature policy, fetch and verify the config and\n"
	"every layer, and create BUNDLE/rootfs and BUNDLE/config.json. On success one line names the\n"
	"image, its manifest digest and the bundle (on stderr; with --json the result is on stdout).\n"
	"\n"
	"Options:\n"
	HELP_IMAGE_OPTIONS
	HELP_LAYER_OPTIONS
	HELP_KBS_OPTIONS
	"\n"
	"IMAGE is a docker reference: busybox, registry.example.com:5000/app:1.2, app@sha256:<hex>.\n"
	"Options may follow the operands; \"--\" ends the options.\n"
	HELP_EXIT_STATUS
	"See ccpull(1), PULL.\n";

static const char inspect_usage[] =
	"Usage: ccpull inspect [OPTIONS] IMAGE\n"
	"\n"
	"Show an image's manifest digest, platforms and config without fetching its layers.\n"
	"\n"
	"Options:\n"
	HELP_IMAGE_OPTIONS
	HELP_INSPECT_OPTIONS
	"  --kbs URL, --attester A, --kbs-cert PATH, --kbs-resources FILE, --kbs-key ec|rsa, --aa-socket PATH\n"
	"                             kbs:/// resources (--authfile, --registries-conf, --ca-file), as for pull\n"
	"\n"
	"Options may follow the operands; \"--\" ends the options.\n"
	HELP_EXIT_STATUS
	"See ccpull(1), INSPECT.\n";

static const char store_usage[] =
	"Usage: ccpull store ls|rm|gc [--store DIR] [--json] [IMAGE]\n"
	"\n"
	"  store ls [--store DIR] [--json]   images (every name pulled), layers by the blob digest pulled\n"
	"                                    (sizes, in use or not; --json adds chain IDs), mounted bundles and\n"
	"                                    staging (of pulls in progress or killed, with sizes);\n"
	"                                    never changes the store\n"
	"  store rm [--store DIR] IMAGE      forget IMAGE: a name it was pulled as, or its manifest digest\n"
	"                                    (removes every name); its layers go at the next gc\n"
	"  store gc [--store DIR] [--json]   remove layers no image or mounted bundle uses, and leftovers\n"
	"                                    of interrupted pulls (records of bundles no longer mounted,\n"
	"                                    staging, lock files, partial files and unused configs),\n"
	"                                    and says how many bytes that freed\n"
	"\n"
	"  --store DIR                       the layer store (default /run/ccpull/store)\n"
	"  --json                            print the result as one JSON object on stdout\n"
	"\n"
	"See ccpull(1), STORE.\n";

static const char umount_usage[] =
	"Usage: ccpull umount BUNDLE\n"
	"\n"
	"Unmount the overlay rootfs of BUNDLE (made by pull with --snapshotter overlay), remove its\n"
	"writable state (BUNDLE/.ccpull) and the store's record of it. BUNDLE/config.json stays.\n"
	"Running it again on the same bundle succeeds.\n"
	"\n"
	"See ccpull(1), UMOUNT.\n";

#define usage_error(...) cli_usage_error(NULL, __VA_ARGS__)

/* The library's warnings of the last call on ctx, on stderr (also with -q: they are about trust). */
static void print_warnings(const ccp_context *ctx)
{
	for (size_t i = 0; i < ccp_context_warning_count(ctx); i++)
		fprintf(stderr, "%s: warning: %s\n", prog, ccp_context_warning(ctx, i));
}

/* The same as a JSON array of strings, for --json. */
static json_t *warnings_json(const ccp_context *ctx)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < ccp_context_warning_count(ctx); i++)
		json_array_append_new(a, json_string(ccp_context_warning(ctx, i)));
	return a;
}

static int fail(ccp_context *ctx, int code)
{
	fprintf(stderr, "%s: %s\n", prog, ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx)
									   : ccp_strerror(code));
	return ccp_exit_status(code);
}

/*
 * After SIGINT or SIGTERM cancelled a call: says what stopped and what was removed, and gives the
 * exit status (130, 143). bundle: the pull's bundle (NULL for other commands); existed: it was there
 * before the pull; store: the pull used the store (its staging is removed too).
 */
static int interrupted(const char *command, const char *bundle, int existed, int store)
{
	int sig = cli_interrupted();
	const char *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
	struct stat st;

	if (!bundle)
		fprintf(stderr, "%s: interrupted (%s); %s stopped\n", prog, name, command);
	else if (!existed && stat(bundle, &st) != 0)
		fprintf(stderr, "%s: interrupted (%s); removed %s%s\n", prog, name, bundle,
			store ? " and the pull's staging in the store" : "");
	else
		fprintf(stderr, "%s: interrupted (%s); removed what the pull made in %s%s\n", prog, name, bundle,
			store ? " and its staging in the store" : "");
	return cli_interrupted_status();
}

/* ---- progress on a terminal ---- */

/*
 * What a pull shows on a terminal: a status line (the stages before the layers, then every layer
 * together: layers done, bytes, total, rate, time left) redrawn in place at most ten times a second,
 * a line per layer as it is done, all cut to the terminal's width so that nothing wraps. The
 * callback runs on the download threads: everything is under lock.
 */
typedef struct progress_state {
	pthread_mutex_t lock;
	const char *image;
	int insecure_policy;       /* no signature policy to speak of */
	struct timespec start;     /* of the first layer */
	struct timespec last;      /* of the last redraw */
	int stages_done;           /* the manifest, policy and config line is printed */
	int status_shown;          /* a status line is on screen */
	size_t count, done_layers;
	uint64_t *done, *total;    /* per layer (count of them); NULL when out of memory */
	unsigned char *sized;      /* total[i] is known */
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

static size_t term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* Replaces the status line with text (cut to the width); permanent ends it with a newline. */
static void progress_line(progress_state *ps, const char *text, int permanent)
{
	size_t w = term_width() - 1; /* the last column would make some terminals wrap */

	fprintf(stderr, "\r\033[K%.*s%s", (int)(strlen(text) < w ? strlen(text) : w), text, permanent ? "\n" : "");
	ps->status_shown = !permanent;
	fflush(stderr);
}

static void progress_stages_done(progress_state *ps, size_t count)
{
	char line[1024];

	if (ps->stages_done)
		return;
	ps->stages_done = 1;
	snprintf(line, sizeof(line), "%s: manifest%s and config verified; %zu layer%s", ps->image,
		 ps->insecure_policy ? " (no signature policy: --insecure-policy)" : ", signature policy", count,
		 count == 1 ? "" : "s");
	progress_line(ps, line, 1);
}

static void progress_status(progress_state *ps, const struct timespec *now)
{
	uint64_t done = 0, total = 0;
	size_t sized = 0;
	char line[256], d[32], t[32], rate[32], eta[32] = "";
	double secs = elapsed(&ps->start, now), bps;

	for (size_t i = 0; ps->done && i < ps->count; i++) {
		done += ps->done[i];
		total += ps->total[i];
		sized += ps->sized[i];
	}
	bps = secs > 0.2 ? (double)done / secs : 0;
	human(d, sizeof(d), (double)done);
	human(t, sizeof(t), (double)total);
	human(rate, sizeof(rate), bps);
	if (bps > 0 && sized == ps->count && total >= done) {
		unsigned long left = (unsigned long)((double)(total - done) / bps + 0.5);
		snprintf(eta, sizeof(eta), "  %lu:%02lu left", left / 60, left % 60);
	}
	/* until every layer has started, the total is what is known so far */
	snprintf(line, sizeof(line), "layers %zu/%zu  %s / %s%s  %s/s%s", ps->done_layers, ps->count, d, t,
		 sized == ps->count ? "" : "+", rate, eta);
	progress_line(ps, line, 0);
}

static void on_progress(const ccp_progress_event *ev, void *payload)
{
	progress_state *ps = payload;
	struct timespec now;
	char size[32], line[256];
	size_t i = ev->layer_index;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&ps->lock);
	progress_stages_done(ps, ev->layer_count);
	if (ev->kind != CCP_PROGRESS_ROOTFS && !ps->count && ev->layer_count) {
		ps->count = ev->layer_count;
		ps->start = now;
		ps->done = calloc(ps->count, sizeof(*ps->done));
		ps->total = calloc(ps->count, sizeof(*ps->total));
		ps->sized = calloc(ps->count, 1);
		if (!ps->done || !ps->total || !ps->sized) {
			free(ps->done);
			free(ps->total);
			free(ps->sized);
			ps->done = ps->total = NULL;
			ps->sized = NULL;
		}
	}
	if (ps->done && i < ps->count && ev->kind != CCP_PROGRESS_ROOTFS) {
		ps->total[i] = ev->total;
		ps->sized[i] = 1;
		if (ev->kind != CCP_PROGRESS_LAYER_START)
			ps->done[i] = ev->kind == CCP_PROGRESS_LAYER_DONE ? ev->total : ev->done;
	}
	switch (ev->kind) {
	case CCP_PROGRESS_LAYER_START:
	case CCP_PROGRESS_LAYER_BYTES:
		if (ps->status_shown && elapsed(&ps->last, &now) < 0.1)
			break;
		ps->last = now;
		progress_status(ps, &now);
		break;
	case CCP_PROGRESS_LAYER_DONE:
		ps->done_layers++;
		human(size, sizeof(size), (double)ev->total);
		snprintf(line, sizeof(line), "layer %zu/%zu %.19s  %s  %s", i + 1, ev->layer_count,
			 ev->digest ? ev->digest : "", size, ev->reused ? "already in the store" : "verified");
		progress_line(ps, line, 1);
		if (ps->done_layers < ps->count)
			progress_status(ps, &now);
		break;
	case CCP_PROGRESS_ROOTFS:
		progress_line(ps, "assembling the rootfs", 0);
		break;
	}
	pthread_mutex_unlock(&ps->lock);
}

static void progress_free(progress_state *ps)
{
	if (ps->status_shown)
		progress_line(ps, "", 0);
	free(ps->done);
	free(ps->total);
	free(ps->sized);
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
	while ((ch = cli_getopt(argc, argv, "q", long_opts, command)) != -1) {
		if (cli_image_option(&c->img, ch, optarg, groups, command))
			continue;
		switch (ch) {
		case OPT_JSON: c->json = 1; break;
		case OPT_HELP: fputs(is_pull ? pull_usage : inspect_usage, stdout); exit(0);
		case 'q':
			if (!is_pull)
				cli_usage_error(command, "-q, --quiet applies to pull only");
			c->quiet = 1;
			break;
		case OPT_RAW:
		case OPT_IMAGE_CONFIG:
			if (is_pull)
				cli_usage_error(command, "%s applies to inspect only",
						ch == OPT_RAW ? "--raw" : "--image-config");
			if (ch == OPT_RAW)
				c->raw = 1;
			else
				c->config = 1;
			break;
		default:
			cli_usage_error(command, "unknown option");
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
	progress_state ps;
	ccp_context *ctx = NULL;
	ccp_pull_result *res = NULL;
	struct stat st;
	int r, existed;

	parse_options(&c, argc, argv, 1);
	cli_check_operands(argc, argv, 2, 2, "pull", "IMAGE and BUNDLE");
	cli_check_reference(argv[optind], "pull");
	if (c.img.pull.store.dir && geteuid() != 0)
		fprintf(stderr, "%s pull: warning: --store %s is not used without root: the layers are unpacked "
			"straight into the bundle, with no store\n", prog, c.img.pull.store.dir);
	memset(&ps, 0, sizeof(ps));
	pthread_mutex_init(&ps.lock, NULL);
	ps.image = argv[optind];
	ps.insecure_policy = c.img.pull.trust.insecure_policy;
	/* progress on a terminal only: logs get the one line at the end */
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
	if (c.img.pull.progress) {
		char line[1024];
		snprintf(line, sizeof(line), "%s: manifest%s, config...", ps.image,
			 ps.insecure_policy ? "" : ", signature policy");
		progress_line(&ps, line, 0);
	}
	existed = stat(argv[optind + 1], &st) == 0;
	cli_cancel_on_signals(ctx);
	r = ccp_pull(&res, ctx, argv[optind], argv[optind + 1], &c.img.pull);
	progress_free(&ps);
	pthread_mutex_destroy(&ps.lock);
	if (r != 0) {
		print_warnings(ctx);
		if (cli_interrupted())
			r = interrupted("pull", argv[optind + 1], existed, geteuid() == 0);
		else
			r = fail(ctx, r);
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	print_warnings(ctx);
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
		r = print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o*}", "image", ccp_pull_result_image(res),
					 "manifest_digest", ccp_pull_result_manifest_digest(res),
					 "config_digest", ccp_pull_result_config_digest(res),
					 "platform", ccp_pull_result_platform(res),
					 "snapshotter", ccp_pull_result_snapshotter(res),
					 "rootfs", ccp_pull_result_rootfs(res), "layers", layers,
					 "config_path", ccp_pull_result_config_path(res),
					 "config", config ? config : json_null(), "warnings", warnings_json(ctx)));
	} else if (!c.quiet) {
		/* on a terminal or not: a log records what ran */
		fprintf(stderr, "pulled %s %s into %s\n", ccp_pull_result_image(res),
			ccp_pull_result_manifest_digest(res), argv[optind + 1]);
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
	cli_check_operands(argc, argv, 1, 1, "inspect", "exactly one IMAGE");
	cli_check_reference(argv[optind], "inspect");
	if (c.raw + c.config + c.json > 1)
		cli_usage_error("inspect", "--raw, --image-config and --json are exclusive");
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	if ((r = cli_load_config(&c.img, ctx, 0, "inspect")) != 0) {
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	cli_cancel_on_signals(ctx);
	r = ccp_inspect(&res, ctx, argv[optind], &c.img.pull);
	print_warnings(ctx);
	if (r != 0) {
		r = cli_interrupted() ? interrupted("inspect", NULL, 0, 0) : fail(ctx, r);
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
		r = print_json(json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o*}", "image", ccp_inspect_result_image(res),
					 "manifest_digest", ccp_inspect_result_digest(res),
					 "media_type", ccp_inspect_result_media_type(res), "platforms", platforms,
					 "image_manifest_digest", ccp_inspect_result_manifest_digest(res),
					 "config_digest", ccp_inspect_result_config_digest(res),
					 "config", cfg ? cfg : json_null(), "warnings", warnings_json(ctx)));
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
	json_t *images, *layers, *bundles, *staging;
	char used[32], size[32];
	int r;

	if ((r = ccp_store_info_load(&info, ctx, store)) != 0)
		return fail(ctx, r);
	if (!json) {
		/* one line per name an image was pulled as; layers by the blob digest a pull shows */
		printf("%-40s %-19s %s\n", "IMAGE", "MANIFEST", "LAYERS");
		for (size_t i = 0; i < ccp_store_info_image_count(info); i++) {
			const ccp_store_image *im = ccp_store_info_image(info, i);
			for (size_t k = 0; k < im->name_count; k++)
				printf("%-40s %-19.19s %zu\n", im->names[k], im->manifest_digest, im->layer_count);
		}
		printf("\n%-19s %10s %10s %s\n", "LAYER", "BLOB", "DISK", "USED BY");
		for (size_t i = 0; i < ccp_store_info_layer_count(info); i++) {
			const ccp_store_layer *l = ccp_store_info_layer(info, i);
			human(size, sizeof(size), (double)l->size);
			human(used, sizeof(used), (double)l->disk_usage);
			printf("%-19.19s %10s %10s ", *l->digest ? l->digest : l->chain_id, size, used);
			if (l->images + l->bundles)
				printf("%zu image(s), %zu mounted bundle(s)\n", l->images, l->bundles);
			else
				printf("unused\n");
		}
		for (size_t i = 0; i < ccp_store_info_bundle_count(info); i++) {
			const ccp_store_bundle *bd = ccp_store_info_bundle(info, i);
			printf("%sbundle %s (%s)%s\n", i ? "" : "\n", bd->bundle, bd->image, bd->live ? "" : " not mounted");
		}
		for (size_t i = 0; i < ccp_store_info_staging_count(info); i++) {
			const ccp_store_staging *sg = ccp_store_info_staging(info, i);
			human(used, sizeof(used), (double)sg->disk_usage);
			printf("%sstaging %s %s (%s)\n", i ? "" : "\n", sg->name, used,
			       sg->live ? "a pull in progress" : "left by an interrupted pull; removed at gc");
		}
		ccp_store_info_free(info);
		return 0;
	}
	images = json_array();
	layers = json_array();
	bundles = json_array();
	staging = json_array();
	for (size_t i = 0; images && i < ccp_store_info_image_count(info); i++) {
		const ccp_store_image *im = ccp_store_info_image(info, i);
		json_t *names = json_array();
		for (size_t k = 0; names && k < im->name_count; k++)
			json_array_append_new(names, json_string(im->names[k]));
		json_array_append_new(images, json_pack("{s:s, s:o*, s:s, s:s, s:I, s:I}", "image", im->image,
							"names", names, "manifest_digest", im->manifest_digest,
							"config_digest", im->config_digest, "last_used",
							(json_int_t)im->last_used, "layers", (json_int_t)im->layer_count));
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
	for (size_t i = 0; staging && i < ccp_store_info_staging_count(info); i++) {
		const ccp_store_staging *sg = ccp_store_info_staging(info, i);
		json_array_append_new(staging, json_pack("{s:s, s:I, s:b}", "name", sg->name, "disk_usage",
							 (json_int_t)sg->disk_usage, "live", sg->live));
	}
	ccp_store_info_free(info);
	return print_json(json_pack("{s:o*, s:o*, s:o*, s:o*}", "images", images, "layers", layers, "bundles", bundles,
				    "staging", staging));
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

	optind = 1;
	while ((ch = cli_getopt(argc, argv, "", opts, "store")) != -1) {
		switch (ch) {
		case CLI_OPT_STORE: store = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_HELP: fputs(store_usage, stdout); exit(0);
		default: cli_usage_error("store", "unknown option");
		}
	}
	if (optind == argc)
		cli_usage_error("store", "store needs a verb: ls, rm or gc");
	verb = argv[optind++];
	ctx = new_context();
	if (strcmp(verb, "ls") == 0) {
		cli_check_operands(argc, argv, 0, 0, "store", "no operand after ls");
		r = store_ls(ctx, store, json);
	} else if (strcmp(verb, "rm") == 0) {
		size_t n = 0;
		cli_check_operands(argc, argv, 1, 1, "store", "exactly one IMAGE after rm");
		if ((r = ccp_store_remove_image(ctx, store, argv[optind], &n)) != 0)
			r = fail(ctx, r);
		else if (json)
			r = print_json(json_pack("{s:I}", "removed", (json_int_t)n));
	} else if (strcmp(verb, "gc") == 0) {
		ccp_store_gc_stats st = CCP_STORE_GC_STATS_INIT;
		char freed[32];
		cli_check_operands(argc, argv, 0, 0, "store", "no operand after gc");
		if ((r = ccp_store_gc(ctx, store, &st)) != 0) {
			r = fail(ctx, r);
		} else if (json) {
			r = print_json(json_pack("{s:I, s:I, s:I}", "layers_removed", (json_int_t)st.layers_removed,
						 "bytes_freed", (json_int_t)st.bytes_freed, "stale_removed",
						 (json_int_t)st.stale_removed));
		} else {
			human(freed, sizeof(freed), (double)st.bytes_freed);
			printf("removed %zu unused layer(s) and %zu leftover(s) (records of bundles no longer "
			       "mounted, staging, lock and partial files of interrupted pulls, configs of forgotten "
			       "images): %s freed\n",
			       st.layers_removed, st.stale_removed, freed);
		}
	} else {
		cli_usage_error("store", "unknown store verb \"%.100s\" (ls, rm or gc)", verb);
	}
	ccp_context_free(ctx);
	return r;
}

static int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	ccp_context *ctx;
	int ch, r;

	optind = 1;
	while ((ch = cli_getopt(argc, argv, "", opts, "umount")) != -1) {
		if (ch != OPT_HELP)
			cli_usage_error("umount", "unknown option");
		fputs(umount_usage, stdout);
		return 0;
	}
	cli_check_operands(argc, argv, 1, 1, "umount", "exactly one BUNDLE");
	ctx = new_context();
	if ((r = ccp_bundle_umount(ctx, argv[optind])) != 0)
		r = fail(ctx, r);
	ccp_context_free(ctx);
	return r;
}

int cmd_serve(int argc, char **argv); /* serve.c */
int cmd_cdh(int argc, char **argv); /* serve.c */
int cmd_verify(int argc, char **argv); /* verify.c */

/*
 * glibc's malloc gives each thread that allocates its own arena and raises its mmap threshold after
 * every large free: with layers applied side by side, the freed buffers and path sets of each stay
 * resident in an arena of their own (issue #20: 51 MiB for five layers of 100k files instead of 39).
 * Two arenas and a fixed 256 KiB threshold (large buffers are mapped and unmapped) keep the peak
 * near what is in use. An operator's GLIBC_TUNABLES or MALLOC_* environment is left to decide.
 */
static void tune_malloc(void)
{
#if defined(M_ARENA_MAX) && defined(M_MMAP_THRESHOLD)
	if (getenv("GLIBC_TUNABLES") || getenv("MALLOC_ARENA_MAX") || getenv("MALLOC_MMAP_THRESHOLD_"))
		return;
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
}

int main(int argc, char **argv)
{
	const char *cmd, *base;

	tune_malloc();
	/* installed or linked as the Confidential Data Hub, kata-agent starts it so */
	if (argc > 0 && argv[0]) {
		base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		if (strcmp(base, "confidential-data-hub") == 0)
			return cmd_cdh(argc, argv);
	}
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
	if (strcmp(cmd, "cdh") == 0)
		return cmd_cdh(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (cmd[0] == '-')
		usage_error("unknown option %.100s before the command", cmd);
	usage_error("unknown command \"%.100s\"", cmd);
}
