#include "cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("ccpull: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ccpull %s%s--help' for more information.\n", command ? command : "",
		command ? " " : "");
	exit(2);
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
		c->pull.keyprovider_config = kp;
	c->pull.decryption_keys = c->keys;
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
	case CLI_OPT_DECRYPTION_KEY:
	case CLI_OPT_KEYPROVIDER_CONFIG:
		return CLI_GROUP_LAYERS;
	default:
		return CLI_GROUP_IMAGE;
	}
}

int cli_image_option(cli_image_opts *c, int ch, const char *arg, unsigned groups, const char *command)
{
	ccp_pull_options *o = &c->pull;

	if (ch < CLI_OPT_INSECURE_POLICY || ch > CLI_OPT_KEYPROVIDER_CONFIG)
		return 0;
	if (!(option_group(ch) & groups))
		cli_usage_error(command, "this option does not apply to %s", command);
	switch (ch) {
	case CLI_OPT_INSECURE_POLICY: o->insecure_policy = 1; break;
	case CLI_OPT_POLICY: o->policy = arg; break;
	case CLI_OPT_TLS_VERIFY: o->tls_verify = parse_bool(command, "--tls-verify", arg); break;
	case CLI_OPT_CA_FILE: o->ca_file = arg; break;
	case CLI_OPT_REGISTRIES_CONF: o->registries_conf = arg; break;
	case CLI_OPT_REGISTRIES_D: o->registries_d = arg; break;
	case CLI_OPT_AUTHFILE: o->authfile = arg; break;
	case CLI_OPT_CREDS: o->creds = arg; break;
	case CLI_OPT_PLATFORM: o->platform = arg; break;
	case CLI_OPT_CONFIG: c->config_file = arg; break;
	case CLI_OPT_RETRY_TIMES: o->retries = parse_number(command, "--retry-times", arg, 20); break;
	case CLI_OPT_PARALLEL_LAYERS:
		if ((o->parallel_layers = parse_number(command, "--parallel-layers", arg, 1024)) == 0)
			cli_usage_error(command, "--parallel-layers expects a number from 1 to 1024");
		break;
	case CLI_OPT_TIMEOUT: o->timeout_s = parse_number(command, "--timeout", arg, 7 * 86400); break;
	case CLI_OPT_KBS: o->kbs = arg; break;
	case CLI_OPT_KBS_CERT: o->kbs_cert = arg; break;
	case CLI_OPT_KBS_RESOURCES: o->kbs_resources = arg; break;
	case CLI_OPT_AA_SOCKET: o->aa_socket = arg; break;
	case CLI_OPT_KBS_KEY:
		if (strcmp(arg, "ec") && strcmp(arg, "rsa"))
			cli_usage_error(command, "--kbs-key expects ec or rsa, not \"%s\"", arg);
		o->kbs_key = arg;
		break;
	case CLI_OPT_ATTESTER:
		if (strcmp(arg, "auto") && strcmp(arg, "sample") && strcmp(arg, "tdx") && strcmp(arg, "snp") &&
		    strcmp(arg, "aa"))
			cli_usage_error(command, "--attester expects auto, sample, tdx, snp or aa, not \"%s\"", arg);
		o->attester = arg;
		break;
	case CLI_OPT_STORE: o->store = arg; break;
	case CLI_OPT_SNAPSHOTTER:
		if (strcmp(arg, "copy") == 0)
			o->snapshotter = CCP_SNAPSHOTTER_COPY;
		else if (strcmp(arg, "overlay") == 0)
			o->snapshotter = CCP_SNAPSHOTTER_OVERLAY;
		else
			cli_usage_error(command, "unknown snapshotter \"%s\" (copy or overlay)", arg);
		break;
	case CLI_OPT_DECRYPTION_KEY:
		if (o->n_decryption_keys == CLI_MAX_KEYS)
			cli_usage_error(command, "at most %d --decryption-key options", CLI_MAX_KEYS);
		c->keys[o->n_decryption_keys++] = arg;
		break;
	case CLI_OPT_KEYPROVIDER_CONFIG: o->keyprovider_config = arg; break;
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
