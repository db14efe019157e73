/*
 * ccpull umount BUNDLE: unmounts an overlay bundle's rootfs and removes its writable state and the
 * store's record of it (ccpull(1), UMOUNT).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "options.h"

static const char umount_usage[] =
	"Usage: ccpull umount BUNDLE\n"
	"\n"
	"Unmount the overlay rootfs of BUNDLE (made by pull with --snapshotter overlay), remove its\n"
	"writable state (BUNDLE/.ccpull) and the store's record of it. BUNDLE/config.json stays.\n"
	"Running it again on the same bundle succeeds.\n"
	"\n"
	"See ccpull(1), UMOUNT.\n";

enum { U_HELP = CLI_OPT_LOCAL };

int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, U_HELP },
		{ NULL, 0, NULL, 0 }
	};
	ccp_context *ctx;
	int ch, r;

	optind = 1;
	while ((ch = cli_getopt(argc, argv, "", opts, "umount")) != -1) {
		if (ch != U_HELP)
			cli_usage_error("umount", "unknown option");
		fputs(umount_usage, stdout);
		return 0;
	}
	cli_check_operands(argc, argv, 1, 1, "umount", "exactly one BUNDLE");
	ctx = cli_new_context();
	if ((r = ccp_bundle_umount(ctx, argv[optind])) != 0)
		r = cli_fail(ctx, r);
	ccp_context_free(ctx);
	return r;
}
