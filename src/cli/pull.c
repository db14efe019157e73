/*
 * ccpull pull: IMAGE into BUNDLE (ccpull(1), PULL), with its progress on a terminal (progress.c), one
 * line or the JSON result at the end, and the report of an interrupted pull.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "help.h"
#include "options.h"

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

int cmd_pull(int argc, char **argv)
{
	cli_opts c = { 0 };
	progress_state ps;
	ccp_context *ctx = NULL;
	ccp_pull_result *res = NULL;
	struct stat st;
	int r, existed;

	cli_parse_options(&c, argc, argv, 1, pull_usage);
	cli_check_operands(argc, argv, 2, 2, "pull", "IMAGE and BUNDLE");
	cli_check_reference(argv[optind], "pull");
	if (c.img.pull.store.dir && geteuid() != 0)
		fprintf(stderr, "%s pull: warning: --store %s is not used without root: the layers are unpacked "
			"straight into the bundle, with no store\n", CLI_PROG, c.img.pull.store.dir);
	memset(&ps, 0, sizeof(ps));
	pthread_mutex_init(&ps.lock, NULL);
	ps.image = argv[optind];
	ps.insecure_policy = c.img.pull.trust.insecure_policy;
	/* progress on a terminal only: logs get the one line at the end */
	if (!c.quiet && isatty(STDERR_FILENO)) {
		c.img.pull.progress = cli_on_progress;
		c.img.pull.progress_payload = &ps;
	}
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
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
		cli_progress_line(&ps, line, 0);
	}
	existed = stat(argv[optind + 1], &st) == 0;
	cli_cancel_on_signals(ctx);
	r = ccp_pull(&res, ctx, argv[optind], argv[optind + 1], &c.img.pull);
	cli_progress_free(&ps);
	pthread_mutex_destroy(&ps.lock);
	if (r != 0) {
		cli_print_warnings(ctx);
		if (cli_interrupted())
			r = cli_report_interrupted("pull", argv[optind + 1], existed, geteuid() == 0);
		else
			r = cli_fail(ctx, r);
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	cli_print_warnings(ctx);
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
		r = cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o*}", "image", ccp_pull_result_image(res),
					 "manifest_digest", ccp_pull_result_manifest_digest(res),
					 "config_digest", ccp_pull_result_config_digest(res),
					 "platform", ccp_pull_result_platform(res),
					 "snapshotter", ccp_pull_result_snapshotter(res),
					 "rootfs", ccp_pull_result_rootfs(res), "layers", layers,
					 "config_path", ccp_pull_result_config_path(res),
					 "config", config ? config : json_null(), "warnings", cli_warnings_json(ctx)));
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
