/*
 * The CLI's option handling (options.h): the options every command that reads images shares, with
 * their groups and checks, --config, the parser of pull and inspect, operand and reference checks,
 * usage errors, and SIGINT/SIGTERM turned into cancelling the call in progress.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_usage_error(const char *command, const char *fmt, ...)
{
	const char *sp = command ? " " : "";
	va_list ap;

	if (!command)
		command = "";
	fprintf(stderr, "ccpull%s%s: ", sp, command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'ccpull%s%s --help')\n", sp, command);
	exit(2);
}

/* "--name" of a long option as written, without "=value" (at most 100 characters). */
static int option_name_len(const char *arg)
{
	size_t n = strcspn(arg, "=");
	return (int)(n > 100 ? 100 : n);
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, const char *command)
{
	char spec[32];
	const char *arg;
	int ch;

	if (*shortopts == '+' || *shortopts == '-')
		shortopts++;
	snprintf(spec, sizeof(spec), ":%s", shortopts);
	opterr = 0;
	ch = getopt_long(argc, argv, spec, longopts, NULL);
	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	if (ch == '?' || ch == ':') {
		if (strncmp(arg, "--", 2) != 0) {
			if (ch == ':')
				cli_usage_error(command, "option -%c needs a value", optopt);
			cli_usage_error(command, "unknown option -%c", isprint(optopt) ? optopt : '?');
		}
		if (ch == ':')
			cli_usage_error(command, "option %.*s needs a value", option_name_len(arg), arg);
		if (optopt && strchr(arg, '='))
			cli_usage_error(command, "option %.*s takes no value", option_name_len(arg), arg);
		cli_usage_error(command, "unknown option %.*s", option_name_len(arg), arg);
	}
	/* podman's form is --tls-verify=false: a separate "false" would be taken as an operand */
	if ((ch == CLI_OPT_TLS_VERIFY || ch == CLI_OPT_KEEP_LAYERS) && !optarg && optind < argc &&
	    (strcmp(argv[optind], "false") == 0 || strcmp(argv[optind], "true") == 0)) {
		const char *name = ch == CLI_OPT_TLS_VERIFY ? "--tls-verify" : "--keep-layers";
		cli_usage_error(command, "%s takes its value after '=': write %s=%s, not %s %s", name, name,
				argv[optind], name, argv[optind]);
	}
	return ch;
}

void cli_check_operands(int argc, char **argv, int min, int max, const char *command, const char *needs)
{
	char list[512] = "";
	size_t len = 0;
	int n = argc - optind;

	if (n >= min && n <= max)
		return;
	for (int i = optind; i < argc && len < sizeof(list); i++) {
		int w = snprintf(list + len, sizeof(list) - len, " '%.100s'", argv[i]);
		if (w < 0 || (size_t)w >= sizeof(list) - len) {
			snprintf(list + len, sizeof(list) - len, " ...");
			break;
		}
		len += (size_t)w;
	}
	if (n == 0)
		cli_usage_error(command, "expected %s; got no operands", needs);
	cli_usage_error(command, "expected %s; got %d operand%s:%s", needs, n, n == 1 ? "" : "s", list);
}

static int parse_bool(const char *command, const char *opt, const char *v)
{
	if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	cli_usage_error(command, "%s expects true or false, not \"%s\"", opt, v);
}

static unsigned int parse_number(const char *command, const char *opt, const char *v, unsigned long max)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || !isdigit((unsigned char)v[0]) || n > max)
		cli_usage_error(command, "%s expects a number from 0 to %lu, not \"%s\"", opt, max, v);
	return (unsigned int)n;
}

void cli_image_opts_init(cli_image_opts *c)
{
	const char *kp = getenv("OCICRYPT_KEYPROVIDER_CONFIG");

	memset(c, 0, sizeof(*c));
	ccp_pull_options_init(&c->pull, CCP_PULL_OPTIONS_VERSION);
	if (kp && *kp)
		c->pull.trust.keyprovider_config = kp;
	c->pull.trust.decryption_keys = c->keys;
}

void cli_image_opts_free(cli_image_opts *c)
{
	ccp_config_free(c->config);
	c->config = NULL;
}

static unsigned option_group(int ch)
{
	switch (ch) {
	case CLI_OPT_KBS:
	case CLI_OPT_ATTESTER:
	case CLI_OPT_KBS_CERT:
	case CLI_OPT_KBS_RESOURCES:
	case CLI_OPT_KBS_KEY:
	case CLI_OPT_AA_SOCKET:
		return CLI_GROUP_KBS;
	case CLI_OPT_STORE:
	case CLI_OPT_SNAPSHOTTER:
	case CLI_OPT_PARALLEL_LAYERS:
	case CLI_OPT_MAX_DECOMPRESSION_RATIO:
	case CLI_OPT_DECRYPTION_KEY:
	case CLI_OPT_KEYPROVIDER_CONFIG:
	case CLI_OPT_STORE_SYNC:
	case CLI_OPT_PARALLEL_RANGES:
	case CLI_OPT_PARALLEL_RANGES_MIN:
	case CLI_OPT_KEEP_LAYERS:
		return CLI_GROUP_LAYERS;
	default:
		return CLI_GROUP_IMAGE;
	}
}

/* "--name" of shared option ch. */
static const char *option_text(int ch)
{
	static const struct option shared[] = { CLI_SHARED_LONG_OPTIONS };
	static char buf[64];

	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (shared[i].val == ch) {
			snprintf(buf, sizeof(buf), "--%s", shared[i].name);
			return buf;
		}
	return "this option";
}

int cli_image_option(cli_image_opts *c, int ch, const char *arg, unsigned groups, const char *command)
{
	ccp_pull_options *o = &c->pull;

	if (ch < CLI_OPT_INSECURE_POLICY || ch > CLI_OPT_KEEP_LAYERS)
		return 0;
	if (!(option_group(ch) & groups))
		cli_usage_error(command, "%s does not apply to %s", option_text(ch), command);
	switch (ch) {
	case CLI_OPT_INSECURE_POLICY: o->trust.insecure_policy = 1; break;
	case CLI_OPT_POLICY: o->trust.policy = arg; break;
	case CLI_OPT_TLS_VERIFY: o->registry.tls_verify = parse_bool(command, "--tls-verify", arg); break;
	case CLI_OPT_CA_FILE: o->registry.ca_file = arg; break;
	case CLI_OPT_REGISTRIES_CONF: o->registry.registries_conf = arg; break;
	case CLI_OPT_REGISTRIES_D: o->trust.registries_d = arg; break;
	case CLI_OPT_AUTHFILE: o->registry.authfile = arg; break;
	case CLI_OPT_CREDS:
		/* never echo arg when it may hold a password */
		if (arg[0] == ':')
			cli_usage_error(command, "--creds expects USER:PASSWORD; the user name is missing");
		if (!strchr(arg, ':'))
			cli_usage_error(command, "--creds expects USER:PASSWORD; \"%.100s\" has no password "
						 "(no ':')", arg);
		o->registry.creds = arg;
		break;
	case CLI_OPT_PLATFORM: o->platform = arg; break;
	case CLI_OPT_CONFIG: c->config_file = arg; break;
	case CLI_OPT_RETRY_TIMES: o->registry.retries = parse_number(command, "--retry-times", arg, 20); break;
	case CLI_OPT_PARALLEL_LAYERS:
		if ((o->store.parallel_layers = parse_number(command, "--parallel-layers", arg, 1024)) == 0)
			cli_usage_error(command, "--parallel-layers expects a number from 1 to 1024");
		break;
	case CLI_OPT_MAX_DECOMPRESSION_RATIO:
		if ((o->store.max_decompression_ratio = parse_number(command, "--max-decompression-ratio", arg,
								CCP_MAX_DECOMPRESSION_RATIO)) == 0)
			cli_usage_error(command, "--max-decompression-ratio expects a number from 1 to %u",
					CCP_MAX_DECOMPRESSION_RATIO);
		break;
	case CLI_OPT_TIMEOUT: o->timeout_s = parse_number(command, "--timeout", arg, 7 * 86400); break;
	case CLI_OPT_KBS: o->kbs.url = arg; break;
	case CLI_OPT_KBS_CERT: o->kbs.cert = arg; break;
	case CLI_OPT_KBS_RESOURCES: o->kbs.resources = arg; break;
	case CLI_OPT_AA_SOCKET: o->kbs.aa_socket = arg; break;
	case CLI_OPT_KBS_KEY:
		if (strcmp(arg, "ec") && strcmp(arg, "rsa"))
			cli_usage_error(command, "--kbs-key expects ec or rsa, not \"%s\"", arg);
		o->kbs.key_type = arg;
		break;
	case CLI_OPT_ATTESTER:
		if (strcmp(arg, "auto") && strcmp(arg, "sample") && strcmp(arg, "tdx") && strcmp(arg, "snp") &&
		    strcmp(arg, "aa"))
			cli_usage_error(command, "--attester expects auto, sample, tdx, snp or aa, not \"%s\"", arg);
		o->kbs.attester = arg;
		break;
	case CLI_OPT_STORE: o->store.dir = arg; break;
	case CLI_OPT_SNAPSHOTTER:
		if (strcmp(arg, "copy") == 0)
			o->store.snapshotter = CCP_SNAPSHOTTER_COPY;
		else if (strcmp(arg, "overlay") == 0)
			o->store.snapshotter = CCP_SNAPSHOTTER_OVERLAY;
		else
			cli_usage_error(command, "unknown snapshotter \"%s\" (copy or overlay)", arg);
		break;
	case CLI_OPT_DECRYPTION_KEY:
		if (o->trust.n_decryption_keys == CLI_MAX_KEYS)
			cli_usage_error(command, "at most %d --decryption-key options", CLI_MAX_KEYS);
		c->keys[o->trust.n_decryption_keys++] = arg;
		break;
	case CLI_OPT_KEYPROVIDER_CONFIG: o->trust.keyprovider_config = arg; break;
	case CLI_OPT_STORE_SYNC:
		if (strcmp(arg, "none") == 0)
			o->store.sync = CCP_STORE_SYNC_NONE;
		else if (strcmp(arg, "full") == 0)
			o->store.sync = CCP_STORE_SYNC_FULL;
		else
			cli_usage_error(command, "--store-sync expects none or full, not \"%s\"", arg);
		break;
	case CLI_OPT_PARALLEL_RANGES:
		if ((o->registry.parallel_ranges = parse_number(command, "--parallel-ranges", arg,
								 CCP_PARALLEL_RANGES_MAX)) == 0)
			cli_usage_error(command, "--parallel-ranges expects a number from 1 to %u", CCP_PARALLEL_RANGES_MAX);
		break;
	case CLI_OPT_KEEP_LAYERS:
		o->store.keep = parse_bool(command, "--keep-layers", arg) ? CCP_STORE_KEEP_DEFAULT : CCP_STORE_KEEP_NONE;
		break;
	case CLI_OPT_PARALLEL_RANGES_MIN:
		if ((o->registry.parallel_ranges_min_mib = parse_number(command, "--parallel-ranges-min-mib", arg,
									 1u << 20)) == 0)
			cli_usage_error(command, "--parallel-ranges-min-mib expects a number from 1 to %u", 1u << 20);
		break;
	}
	return 1;
}

int cli_load_config(cli_image_opts *c, ccp_context *ctx, int cmdline_fallback, const char *command)
{
	static const char *const proxies[] = { "https_proxy", "http_proxy", "no_proxy" };
	int r;

	if (!c->config_file && !cmdline_fallback)
		return 0;
	r = c->config_file ? ccp_config_load(&c->config, ctx, c->config_file)
			   : ccp_config_load_cmdline(&c->config, ctx, NULL);
	if (r == 0)
		r = ccp_config_apply(c->config, ctx, &c->pull);
	if (r != 0) {
		fprintf(stderr, "ccpull %s: %s\n", command, ccp_context_last_error(ctx));
		return ccp_exit_status(r);
	}
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++) {
		const char *v = ccp_config_proxy(c->config, proxies[i]);
		if (v && setenv(proxies[i], v, 1) != 0) {
			fprintf(stderr, "ccpull %s: cannot set %s\n", command, proxies[i]);
			return 1;
		}
	}
	return 0;
}

void cli_check_reference(const char *image, const char *command)
{
	const char *p = strstr(image, "://");

	if (!p)
		return;
	cli_usage_error(command, "a reference has no scheme: write \"%.200s\", not \"%.200s\" (for plain HTTP: "
				 "--tls-verify=false or an insecure registries.conf entry)", p + 3, image);
}

/* ---- cancellation on SIGINT and SIGTERM ---- */

static ccp_context *cancel_ctx;
static volatile sig_atomic_t cancel_signal;

static void on_cancel_signal(int sig)
{
	struct sigaction dfl;

	/* async-signal-safe: ccp_context_cancel only sets an atomic flag */
	cancel_signal = sig;
	ccp_context_cancel(cancel_ctx);
	/* a second signal kills at once */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
}

void cli_cancel_on_signals(ccp_context *ctx)
{
	struct sigaction sa;

	cancel_ctx = ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	/* a signal ignored when ccpull started stays ignored (a background job of a script, nohup) */
	for (size_t i = 0; i < 2; i++) {
		int sig = i ? SIGTERM : SIGINT;
		struct sigaction old;
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sig, &sa, NULL);
	}
}

int cli_interrupted(void)
{
	return cancel_signal;
}

int cli_interrupted_status(void)
{
	return 128 + cancel_signal;
}

/* ---- the options of pull and inspect ---- */

enum { OPT_JSON = CLI_OPT_LOCAL, OPT_RAW, OPT_IMAGE_CONFIG, OPT_HELP };

static const struct option pull_inspect_opts[] = {
	CLI_SHARED_LONG_OPTIONS,
	{ "json", no_argument, NULL, OPT_JSON },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "image-config", no_argument, NULL, OPT_IMAGE_CONFIG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

void cli_parse_options(cli_opts *c, int argc, char **argv, int is_pull, const char *usage)
{
	const char *command = is_pull ? "pull" : "inspect";
	/* inspect takes the KBS options for kbs:/// --authfile, --registries-conf and --ca-file */
	unsigned groups = is_pull ? CLI_GROUP_IMAGE | CLI_GROUP_KBS | CLI_GROUP_LAYERS : CLI_GROUP_IMAGE | CLI_GROUP_KBS;
	int ch;

	cli_image_opts_init(&c->img);
	optind = 1;
	while ((ch = cli_getopt(argc, argv, "q", pull_inspect_opts, command)) != -1) {
		if (cli_image_option(&c->img, ch, optarg, groups, command))
			continue;
		switch (ch) {
		case OPT_JSON: c->json = 1; break;
		case OPT_HELP: fputs(usage, stdout); exit(0);
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
