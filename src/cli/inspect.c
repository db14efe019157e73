/*
 * ccpull inspect: an image's manifest digest, platforms and config without its layers
 * (ccpull(1), INSPECT), as text, JSON or the verified bytes (--raw, --image-config).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "help.h"
#include "options.h"

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

int cmd_inspect(int argc, char **argv)
{
	cli_opts c = { 0 };
	ccp_context *ctx = NULL;
	ccp_inspect_result *res = NULL;
	size_t len, n;
	const char *data;
	int r = 0;

	cli_parse_options(&c, argc, argv, 0, inspect_usage);
	cli_check_operands(argc, argv, 1, 1, "inspect", "exactly one IMAGE");
	cli_check_reference(argv[optind], "inspect");
	if (c.raw + c.config + c.json > 1)
		cli_usage_error("inspect", "--raw, --image-config and --json are exclusive");
	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
		return 1;
	}
	if ((r = cli_load_config(&c.img, ctx, 0, "inspect")) != 0) {
		cli_image_opts_free(&c.img);
		ccp_context_free(ctx);
		return r;
	}
	cli_cancel_on_signals(ctx);
	r = ccp_inspect(&res, ctx, argv[optind], &c.img.pull);
	cli_print_warnings(ctx);
	if (r != 0) {
		r = cli_interrupted() ? cli_report_interrupted("inspect", NULL, 0, 0) : cli_fail(ctx, r);
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
		r = cli_print_json(json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o*}", "image", ccp_inspect_result_image(res),
					 "manifest_digest", ccp_inspect_result_digest(res),
					 "media_type", ccp_inspect_result_media_type(res), "platforms", platforms,
					 "image_manifest_digest", ccp_inspect_result_manifest_digest(res),
					 "config_digest", ccp_inspect_result_config_digest(res),
					 "config", cfg ? cfg : json_null(), "warnings", cli_warnings_json(ctx)));
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
