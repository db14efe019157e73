/*
 * The options every command that reads images takes (pull, inspect, verify, serve): one table, one
 * parser, one way to read --config, so that the commands cannot drift apart.
 */
#ifndef CCP_CLI_OPTIONS_H
#define CCP_CLI_OPTIONS_H

#include <getopt.h>
#include "ccpull/ccpull.h"

enum {
	CLI_OPT_INSECURE_POLICY = 256, CLI_OPT_POLICY, CLI_OPT_TLS_VERIFY, CLI_OPT_CA_FILE, CLI_OPT_REGISTRIES_CONF,
	CLI_OPT_REGISTRIES_D, CLI_OPT_AUTHFILE, CLI_OPT_CREDS, CLI_OPT_PLATFORM, CLI_OPT_CONFIG, CLI_OPT_RETRY_TIMES,
	CLI_OPT_TIMEOUT, CLI_OPT_KBS, CLI_OPT_ATTESTER, CLI_OPT_KBS_CERT, CLI_OPT_KBS_RESOURCES, CLI_OPT_KBS_KEY,
	CLI_OPT_AA_SOCKET, CLI_OPT_STORE, CLI_OPT_SNAPSHOTTER, CLI_OPT_PARALLEL_LAYERS, CLI_OPT_MAX_DECOMPRESSION_RATIO,
	CLI_OPT_DECRYPTION_KEY, CLI_OPT_KEYPROVIDER_CONFIG, CLI_OPT_STORE_SYNC,
	CLI_OPT_PARALLEL_RANGES, CLI_OPT_PARALLEL_RANGES_MIN, CLI_OPT_KEEP_LAYERS,
	CLI_OPT_LOCAL = 512 /* each command numbers its own options from here */
};

/* Which shared options a command accepts. */
#define CLI_GROUP_IMAGE 1u  /* registry, policy, platform, --config, retries, timeout */
#define CLI_GROUP_KBS 2u    /* --kbs, --attester, --kbs-cert, --kbs-resources, --kbs-key, --aa-socket */
#define CLI_GROUP_LAYERS 4u /* --store, --snapshotter, --parallel-layers, --max-decompression-ratio,
                            * --decryption-key, --keyprovider-config, --store-sync,
                            * --parallel-ranges, --parallel-ranges-min-mib, --keep-layers */

/* Entries for a getopt_long table; a command appends its own and the terminating zero entry. */
#define CLI_SHARED_LONG_OPTIONS                                                          \
	{ "insecure-policy", no_argument, NULL, CLI_OPT_INSECURE_POLICY },               \
	{ "policy", required_argument, NULL, CLI_OPT_POLICY },                           \
	{ "tls-verify", optional_argument, NULL, CLI_OPT_TLS_VERIFY },                   \
	{ "ca-file", required_argument, NULL, CLI_OPT_CA_FILE },                         \
	{ "registries-conf", required_argument, NULL, CLI_OPT_REGISTRIES_CONF },         \
	{ "registries-d", required_argument, NULL, CLI_OPT_REGISTRIES_D },               \
	{ "authfile", required_argument, NULL, CLI_OPT_AUTHFILE },                       \
	{ "creds", required_argument, NULL, CLI_OPT_CREDS },                             \
	{ "platform", required_argument, NULL, CLI_OPT_PLATFORM },                       \
	{ "config", required_argument, NULL, CLI_OPT_CONFIG },                           \
	{ "retry-times", required_argument, NULL, CLI_OPT_RETRY_TIMES },                 \
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },                         \
	{ "kbs", required_argument, NULL, CLI_OPT_KBS },                                 \
	{ "attester", required_argument, NULL, CLI_OPT_ATTESTER },                       \
	{ "kbs-cert", required_argument, NULL, CLI_OPT_KBS_CERT },                       \
	{ "kbs-resources", required_argument, NULL, CLI_OPT_KBS_RESOURCES },             \
	{ "kbs-key", required_argument, NULL, CLI_OPT_KBS_KEY },                         \
	{ "aa-socket", required_argument, NULL, CLI_OPT_AA_SOCKET },                     \
	{ "store", required_argument, NULL, CLI_OPT_STORE },                             \
	{ "snapshotter", required_argument, NULL, CLI_OPT_SNAPSHOTTER },                 \
	{ "parallel-layers", required_argument, NULL, CLI_OPT_PARALLEL_LAYERS },         \
	{ "max-decompression-ratio", required_argument, NULL, CLI_OPT_MAX_DECOMPRESSION_RATIO }, \
	{ "decryption-key", required_argument, NULL, CLI_OPT_DECRYPTION_KEY },           \
	{ "keyprovider-config", required_argument, NULL, CLI_OPT_KEYPROVIDER_CONFIG },   \
	{ "store-sync", required_argument, NULL, CLI_OPT_STORE_SYNC },                   \
	{ "parallel-ranges", required_argument, NULL, CLI_OPT_PARALLEL_RANGES },         \
	{ "parallel-ranges-min-mib", required_argument, NULL, CLI_OPT_PARALLEL_RANGES_MIN }, \
	{ "keep-layers", optional_argument, NULL, CLI_OPT_KEEP_LAYERS }

#define CLI_MAX_KEYS 64

typedef struct cli_image_opts {
	ccp_pull_options pull;
	const char *keys[CLI_MAX_KEYS]; /* --decryption-key */
	const char *config_file;        /* --config */
	ccp_config *config;             /* loaded by cli_load_config */
} cli_image_opts;

/* What pull and inspect take: the shared options, --json, and -q (pull) or --raw, --image-config (inspect). */
typedef struct cli_opts {
	cli_image_opts img;
	int json, quiet, raw, config;
} cli_opts;

/* Defaults, plus $OCICRYPT_KEYPROVIDER_CONFIG. */
void cli_image_opts_init(cli_image_opts *c);
void cli_image_opts_free(cli_image_opts *c);

/*
 * Applies ch when it is a shared option and returns 1, or returns 0 for any other ch. A bad value,
 * or an option outside `groups`, is a usage error of `command` (exit 2).
 */
int cli_image_option(cli_image_opts *c, int ch, const char *arg, unsigned groups, const char *command);

/*
 * Reads --config (or, with cmdline_fallback and no --config, the agent.* keys of the kernel command
 * line as CDH does): fills what the command line left unset and exports the file's proxies for
 * libcurl. Call before any thread starts. Returns 0, or the exit status after printing the error.
 */
int cli_load_config(cli_image_opts *c, ccp_context *ctx, int cmdline_fallback, const char *command);

/* One line "ccpull[ COMMAND]: message (see 'ccpull[ COMMAND] --help')" on stderr; exits 2. */
void cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/*
 * getopt_long with GNU argument order: options may follow the operands, "--" ends the options. An
 * unknown option, a missing value or a bare "--tls-verify true|false" is a usage error of command
 * naming the option. Set optind = 1 before the first call.
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, const char *command);

/*
 * Unless the operands argv[optind..argc-1] number from min to max: a usage error of command saying
 * what it expects (needs, e.g. "IMAGE and BUNDLE") and listing the operands it got.
 */
void cli_check_operands(int argc, char **argv, int min, int max, const char *command, const char *needs);

/*
 * Parses the options of pull (is_pull) or inspect into c (initialised here): an option of the other
 * command, or any other, is a usage error; --help prints usage and exits 0.
 */
void cli_parse_options(cli_opts *c, int argc, char **argv, int is_pull, const char *usage);

/* A usage error of command when image is written with a URL scheme ("http://HOST/IMAGE"). */
void cli_check_reference(const char *image, const char *command);

/*
 * From now on SIGINT and SIGTERM cancel ctx (ccp_context_cancel) rather than kill ccpull, so that the
 * call running on it removes what it made; a second signal kills at once. A signal ignored when
 * ccpull started (a background job of a script) stays ignored.
 */
void cli_cancel_on_signals(ccp_context *ctx);
/* The signal that cancelled the context (SIGINT, SIGTERM), or 0. */
int cli_interrupted(void);
/* The exit status for it: 128 + the signal (130, 143). */
int cli_interrupted_status(void);

#endif
