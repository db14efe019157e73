/*
 * ccpull verify: the signature policy's decision for an image without pulling it, and what was checked
 * (ccpull(1), VERIFY). Exit status as for a pull: 0 accepted, 3 rejected, 2 no usable policy, 4 registry.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccpull/ccpull.h"
#include "options.h"

int cmd_verify(int argc, char **argv);

static const char verify_usage[] =
	"Usage: ccpull verify [OPTIONS] IMAGE\n"
	"\n"
	"Evaluate the signature policy for IMAGE as a pull would, without fetching its layers, and show\n"
	"what was checked: the policy scope that applied, each requirement, and each signature with the\n"
	"reason it was accepted or refused. Exit status 0 when the policy accepts the image, 3 when it\n"
	"rejects it, 2 without a usable policy, 4 when the registry fails.\n"
	"\n"
	"  --policy PATH|URI          containers-policy.json (default /etc/containers/policy.json)\n"
	"  --registries-d DIR         registries.d: where signatures are looked up\n"
	"  --tls-verify=false         do not verify TLS certificates; allow plain HTTP to the registry\n"
	"  --ca-file PATH             extra CA certificates (PEM) trusted for registries\n"
	"  --registries-conf PATH     registries.conf\n"
	"  --authfile PATH            containers-auth.json with registry credentials\n"
	"  --creds USER[:PASSWORD]    credentials for the registry\n"
	"  --platform OS/ARCH[/VAR]   the instance of a multi-platform image to check\n"
	"  --retry-times N            retry a failed registry request up to N times (default 3)\n"
	"  --timeout SECONDS          give up after this long\n"
	"  --kbs URL, --attester A, --kbs-cert PATH   kbs:/// resources released by a Trustee KBS\n"
	"  --kbs-resources FILE, --kbs-key ec|rsa     offline kbs:/// resources; the KBS session's key\n"
	"  --aa-socket PATH           the attestation agent's socket, for --attester aa\n"
	"  --config PATH              ccpull.toml (the Confidential Data Hub's config); options win over it\n"
	"  --json                     print the result as one JSON object on stdout\n"
	"\n"
	"See ccpull(1), VERIFY.\n";

enum { V_JSON = CLI_OPT_LOCAL, V_HELP };

static void parse_verify_options(cli_image_opts *c, int *json, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SHARED_LONG_OPTIONS,
		{ "json", no_argument, NULL, V_JSON },
		{ "help", no_argument, NULL, V_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	cli_image_opts_init(c);
	optind = 1;
	while ((ch = cli_getopt(argc, argv, "", opts, "verify")) != -1) {
		if (cli_image_option(c, ch, optarg, CLI_GROUP_IMAGE | CLI_GROUP_KBS, "verify"))
			continue;
		switch (ch) {
		case V_JSON: *json = 1; break;
		case V_HELP: fputs(verify_usage, stdout); exit(0);
		default: cli_usage_error("verify", "unknown option");
		}
	}
}

static const char *scope_text(const ccp_verify_result *res, char *buf, size_t n)
{
	const char *scope = ccp_verify_result_scope(res);

	if (!scope)
		return "default";
	snprintf(buf, n, "transports.docker[\"%s\"]", scope);
	return buf;
}

static void print_text(const ccp_verify_result *res, const ccp_context *ctx)
{
	size_t n_reqs = ccp_verify_result_requirement_count(res), n_sigs = ccp_verify_result_signature_count(res);
	const char *store = ccp_verify_result_signature_store(res);
	char scope[1200];

	printf("Image        %s\n", ccp_verify_result_image(res));
	printf("Manifest     %s\n", ccp_verify_result_manifest_digest(res));
	printf("Scope        %s\n", scope_text(res, scope, sizeof(scope)));
	if (*store)
		printf("Signatures   %zu, simple signatures from %s\n", ccp_verify_result_signature_total(res), store);
	for (size_t i = 0; i < n_reqs; i++) {
		const ccp_verify_requirement *q = ccp_verify_result_requirement(res, i);
		printf("Requirement  %zu/%zu %s: %s\n", i + 1, n_reqs, q->type, ccp_verdict_name(q->verdict));
		if (*q->keys)
			printf("    keys     %s\n", q->keys);
		if (*q->signed_identity)
			printf("    identity %s\n", q->signed_identity);
		if (*q->reason)
			printf("    reason   %s\n", q->reason);
		for (size_t k = 0; k < n_sigs; k++) {
			const ccp_verify_signature *s = ccp_verify_result_signature(res, k);
			if (s->requirement != i)
				continue;
			printf("    signature %zu (%s, %s): %s\n", s->index + 1, s->format, s->source,
			       ccp_verdict_name(s->verdict));
			if (*s->signer)
				printf("        signer   %s\n", s->signer);
			if (*s->identity)
				printf("        identity %s\n", s->identity);
			if (*s->digest)
				printf("        digest   %s\n", s->digest);
			if (*s->reason)
				printf("        reason   %s\n", s->reason);
		}
	}
	for (size_t i = 0; i < ccp_context_warning_count(ctx); i++)
		printf("Warning      %s\n", ccp_context_warning(ctx, i));
	printf("Decision     %s\n", ccp_verify_result_accepted(res) ? "accepted" : "rejected");
}

static int print_json(const ccp_verify_result *res, const ccp_context *ctx)
{
	json_t *reqs = json_array(), *warnings = json_array(), *root, *scope;
	const char *sc = ccp_verify_result_scope(res);
	char *s;

	for (size_t i = 0; reqs && i < ccp_verify_result_requirement_count(res); i++) {
		const ccp_verify_requirement *q = ccp_verify_result_requirement(res, i);
		json_t *sigs = json_array();
		for (size_t k = 0; sigs && k < ccp_verify_result_signature_count(res); k++) {
			const ccp_verify_signature *g = ccp_verify_result_signature(res, k);
			if (g->requirement != i)
				continue;
			json_array_append_new(sigs, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
				"index", (json_int_t)g->index, "format", g->format, "source", g->source,
				"verdict", ccp_verdict_name(g->verdict), "signer", g->signer, "identity", g->identity,
				"digest", g->digest, "reason", g->reason));
		}
		json_array_append_new(reqs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o*}", "type", q->type,
						      "keys", q->keys, "signed_identity", q->signed_identity,
						      "verdict", ccp_verdict_name(q->verdict), "reason", q->reason,
						      "signatures", sigs));
	}
	for (size_t i = 0; warnings && i < ccp_context_warning_count(ctx); i++)
		json_array_append_new(warnings, json_string(ccp_context_warning(ctx, i)));
	scope = sc ? json_pack("{s:s, s:s}", "section", "transports.docker", "name", sc)
		   : json_pack("{s:s}", "section", "default");
	root = json_pack("{s:s, s:s, s:b, s:s, s:o*, s:s, s:I, s:o*, s:o*}", "image", ccp_verify_result_image(res),
			 "manifest_digest", ccp_verify_result_manifest_digest(res),
			 "accepted", ccp_verify_result_accepted(res), "reason", ccp_verify_result_reason(res),
			 "scope", scope, "signature_store", ccp_verify_result_signature_store(res),
			 "signature_total", (json_int_t)ccp_verify_result_signature_total(res),
			 "requirements", reqs, "warnings", warnings);
	if (!root || !(s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		json_decref(root);
		fputs("ccpull: out of memory\n", stderr);
		return -1;
	}
	puts(s);
	free(s);
	json_decref(root);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	cli_image_opts c;
	ccp_context *ctx = NULL;
	ccp_verify_result *res = NULL;
	int json = 0, r;

	parse_verify_options(&c, &json, argc, argv);
	cli_check_operands(argc, argv, 1, 1, "verify", "exactly one IMAGE");
	cli_check_reference(argv[optind], "verify");
	if (ccp_context_new(&ctx) != 0) {
		fputs("ccpull: out of memory\n", stderr);
		return 1;
	}
	if ((r = cli_load_config(&c, ctx, 0, "verify")) != 0) {
		cli_image_opts_free(&c);
		ccp_context_free(ctx);
		return r;
	}
	cli_cancel_on_signals(ctx);
	r = ccp_verify(&res, ctx, argv[optind], &c.pull);
	for (size_t i = 0; i < ccp_context_warning_count(ctx); i++)
		fprintf(stderr, "ccpull: warning: %s\n", ccp_context_warning(ctx, i));
	if (res) {
		if (json) {
			if (print_json(res, ctx) != 0 && !r)
				r = CCP_ENOMEM;
		} else {
			print_text(res, ctx);
		}
	}
	if (r && cli_interrupted()) {
		fputs(cli_interrupted() == SIGINT ? "ccpull: interrupted (SIGINT); verify stopped\n"
						  : "ccpull: interrupted (SIGTERM); verify stopped\n", stderr);
		ccp_verify_result_free(res);
		cli_image_opts_free(&c);
		ccp_context_free(ctx);
		return cli_interrupted_status();
	}
	if (r)
		fprintf(stderr, "ccpull: %s\n", ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx)
									   : ccp_strerror(r));
	ccp_verify_result_free(res);
	cli_image_opts_free(&c);
	ccp_context_free(ctx);
	return ccp_exit_status(r);
}
