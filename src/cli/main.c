/*
 * ccpull: a thin CLI over libccpull. main picks the command (a file each: pull.c, inspect.c,
 * verify.c, store.c, umount.c; serve.c for serve and cdh), which parses its options (options.c),
 * calls the library, prints (output.c, progress.c), and exits with the status of the library's error
 * code (ccpull(1), EXIT STATUS). The global --help is here; help.h has the pieces it shares.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccpull/ccpull.h"
#include "cli.h"
#include "help.h"
#include "options.h"

#define EXIT_USAGE 2

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

#define usage_error(...) cli_usage_error(NULL, __VA_ARGS__)

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

static int run(int argc, char **argv)
{
	const char *cmd, *base;

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

int main(int argc, char **argv)
{
	int r;

	tune_malloc();
	if ((r = ccp_init()) < 0) {
		fprintf(stderr, "ccpull: %s\n", ccp_context_last_error(NULL));
		return ccp_exit_status(r);
	}
	r = run(argc, argv);
	/* the KBS sessions' secrets are wiped before the process ends */
	ccp_shutdown();
	return r;
}
