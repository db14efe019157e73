/*
 * What the commands print besides their results (cli.h): the library's errors and warnings, the
 * report of an interrupted call, JSON on stdout, sizes for people.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"
#include "options.h"

void cli_print_warnings(const ccp_context *ctx)
{
	for (size_t i = 0; i < ccp_context_warning_count(ctx); i++)
		fprintf(stderr, "%s: warning: %s\n", CLI_PROG, ccp_context_warning(ctx, i));
}

json_t *cli_warnings_json(const ccp_context *ctx)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < ccp_context_warning_count(ctx); i++)
		json_array_append_new(a, json_string(ccp_context_warning(ctx, i)));
	return a;
}

int cli_fail(ccp_context *ctx, int code)
{
	fprintf(stderr, "%s: %s\n", CLI_PROG, ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx)
									       : ccp_strerror(code));
	return ccp_exit_status(code);
}

int cli_report_interrupted(const char *command, const char *bundle, int existed, int store)
{
	int sig = cli_interrupted();
	const char *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
	struct stat st;

	if (!bundle)
		fprintf(stderr, "%s: interrupted (%s); %s stopped\n", CLI_PROG, name, command);
	else if (!existed && stat(bundle, &st) != 0)
		fprintf(stderr, "%s: interrupted (%s); removed %s%s\n", CLI_PROG, name, bundle,
			store ? " and the pull's staging in the store" : "");
	else
		fprintf(stderr, "%s: interrupted (%s); removed what the pull made in %s%s\n", CLI_PROG, name, bundle,
			store ? " and its staging in the store" : "");
	return cli_interrupted_status();
}

int cli_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!s) {
		json_decref(j);
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
		return 1;
	}
	puts(s);
	free(s);
	json_decref(j);
	return 0;
}

void cli_human(char *out, size_t n, double bytes)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

ccp_context *cli_new_context(void)
{
	ccp_context *ctx = NULL;

	if (ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
		exit(1);
	}
	return ctx;
}
