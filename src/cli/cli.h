/*
 * What the command files of the CLI share: each command's entry point (called by main.c), what they
 * print (errors, warnings, JSON, sizes) and the progress a pull shows on a terminal. The options they
 * take are in options.h.
 */
#ifndef CCP_CLI_CLI_H
#define CCP_CLI_CLI_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "ccpull/ccpull.h"

#define CLI_PROG "ccpull"

/* The commands: argv[0] is the command's name; each returns the exit status. */
int cmd_pull(int argc, char **argv);    /* pull.c */
int cmd_inspect(int argc, char **argv); /* inspect.c */
int cmd_verify(int argc, char **argv);  /* verify.c */
int cmd_store(int argc, char **argv);   /* store.c */
int cmd_umount(int argc, char **argv);  /* umount.c */
int cmd_serve(int argc, char **argv);   /* serve.c */
int cmd_cdh(int argc, char **argv);     /* serve.c */

/* ---- output.c ---- */

/* The library's warnings of the last call on ctx, on stderr (also with -q: they are about trust). */
void cli_print_warnings(const ccp_context *ctx);
/* The same as a JSON array of strings, for --json. */
json_t *cli_warnings_json(const ccp_context *ctx);
/* The error of the last call on ctx (else code's name) on stderr; returns the exit status of code. */
int cli_fail(ccp_context *ctx, int code);
/*
 * After SIGINT or SIGTERM cancelled a call: says what stopped and what was removed, and gives the
 * exit status (130, 143). bundle: the pull's bundle (NULL for other commands); existed: it was there
 * before the pull; store: the pull used the store (its staging is removed too).
 */
int cli_report_interrupted(const char *command, const char *bundle, int existed, int store);
/* Prints j (consumed; NULL: out of memory) indented on stdout; returns the exit status. */
int cli_print_json(json_t *j);
/* bytes as "12.3 MiB" in out. */
void cli_human(char *out, size_t n, double bytes);
/* A new context; out of memory: says so and exits 1. */
ccp_context *cli_new_context(void);

/* ---- progress.c ---- */

/*
 * What a pull shows on a terminal: a status line (the stages before the layers, then every layer
 * together: layers done, bytes, total, rate, time left) redrawn in place at most ten times a second,
 * a line per layer as it is done, all cut to the terminal's width so that nothing wraps. The
 * callback runs on the download threads: everything is under lock. Zero it, init lock, set image
 * and insecure_policy; cli_progress_free at the end.
 */
typedef struct progress_state {
	pthread_mutex_t lock;
	const char *image;
	int insecure_policy;       /* no signature policy to speak of */
	struct timespec start;     /* of the first layer */
	struct timespec last;      /* of the last redraw */
	int stages_done;           /* the manifest, policy and config line is printed */
	int status_shown;          /* a status line is on screen */
	size_t count, done_layers;
	uint64_t *done, *total;    /* per layer (count of them); NULL when out of memory */
	unsigned char *sized;      /* total[i] is known */
} progress_state;

/* The ccp_progress_cb of a pull; payload is its progress_state. */
void cli_on_progress(const ccp_progress_event *ev, void *payload);
/* Replaces the status line with text (cut to the width); permanent ends it with a newline. */
void cli_progress_line(progress_state *ps, const char *text, int permanent);
/* Clears the status line and frees what ps holds (not the lock). */
void cli_progress_free(progress_state *ps);

#endif
