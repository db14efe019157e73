/*
 * ccpull store ls|rm|gc: what the layer store holds, forgetting an image, collecting unused layers
 * and the leftovers of interrupted pulls (ccpull(1), STORE).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

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

static int store_ls(ccp_context *ctx, const char *store, int json)
{
	ccp_store_info *info = NULL;
	json_t *images, *layers, *bundles, *staging;
	char used[32], size[32];
	int r;

	if ((r = ccp_store_info_load(&info, ctx, store)) != 0)
		return cli_fail(ctx, r);
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
			cli_human(size, sizeof(size), (double)l->size);
			cli_human(used, sizeof(used), (double)l->disk_usage);
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
			cli_human(used, sizeof(used), (double)sg->disk_usage);
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
	return cli_print_json(json_pack("{s:o*, s:o*, s:o*, s:o*}", "images", images, "layers", layers, "bundles", bundles,
				    "staging", staging));
}

enum { ST_JSON = CLI_OPT_LOCAL, ST_HELP };

int cmd_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, CLI_OPT_STORE },
		{ "json", no_argument, NULL, ST_JSON },
		{ "help", no_argument, NULL, ST_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *verb, *store = NULL;
	ccp_context *ctx;
	int ch, json = 0, r;

	optind = 1;
	while ((ch = cli_getopt(argc, argv, "", opts, "store")) != -1) {
		switch (ch) {
		case CLI_OPT_STORE: store = optarg; break;
		case ST_JSON: json = 1; break;
		case ST_HELP: fputs(store_usage, stdout); exit(0);
		default: cli_usage_error("store", "unknown option");
		}
	}
	if (optind == argc)
		cli_usage_error("store", "store needs a verb: ls, rm or gc");
	verb = argv[optind++];
	ctx = cli_new_context();
	if (strcmp(verb, "ls") == 0) {
		cli_check_operands(argc, argv, 0, 0, "store", "no operand after ls");
		r = store_ls(ctx, store, json);
	} else if (strcmp(verb, "rm") == 0) {
		size_t n = 0;
		cli_check_operands(argc, argv, 1, 1, "store", "exactly one IMAGE after rm");
		if ((r = ccp_store_remove_image(ctx, store, argv[optind], &n)) != 0)
			r = cli_fail(ctx, r);
		else if (json)
			r = cli_print_json(json_pack("{s:I}", "removed", (json_int_t)n));
	} else if (strcmp(verb, "gc") == 0) {
		ccp_store_gc_stats st = CCP_STORE_GC_STATS_INIT;
		char freed[32];
		cli_check_operands(argc, argv, 0, 0, "store", "no operand after gc");
		if ((r = ccp_store_gc(ctx, store, &st)) != 0) {
			r = cli_fail(ctx, r);
		} else if (json) {
			r = cli_print_json(json_pack("{s:I, s:I, s:I}", "layers_removed", (json_int_t)st.layers_removed,
						 "bytes_freed", (json_int_t)st.bytes_freed, "stale_removed",
						 (json_int_t)st.stale_removed));
		} else {
			cli_human(freed, sizeof(freed), (double)st.bytes_freed);
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
