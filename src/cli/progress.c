/*
 * The progress of a pull on a terminal (cli.h, progress_state): the stages line, then one status
 * line for all layers redrawn in place, and a line per layer as it is done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static size_t term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

void cli_progress_line(progress_state *ps, const char *text, int permanent)
{
	size_t w = term_width() - 1; /* the last column would make some terminals wrap */

	fprintf(stderr, "\r\033[K%.*s%s", (int)(strlen(text) < w ? strlen(text) : w), text, permanent ? "\n" : "");
	ps->status_shown = !permanent;
	fflush(stderr);
}

static void progress_stages_done(progress_state *ps, size_t count)
{
	char line[1024];

	if (ps->stages_done)
		return;
	ps->stages_done = 1;
	snprintf(line, sizeof(line), "%s: manifest%s and config verified; %zu layer%s", ps->image,
		 ps->insecure_policy ? " (no signature policy: --insecure-policy)" : ", signature policy", count,
		 count == 1 ? "" : "s");
	cli_progress_line(ps, line, 1);
}

static void progress_status(progress_state *ps, const struct timespec *now)
{
	uint64_t done = 0, total = 0;
	size_t sized = 0;
	char line[256], d[32], t[32], rate[32], eta[32] = "";
	double secs = elapsed(&ps->start, now), bps;

	for (size_t i = 0; ps->done && i < ps->count; i++) {
		done += ps->done[i];
		total += ps->total[i];
		sized += ps->sized[i];
	}
	bps = secs > 0.2 ? (double)done / secs : 0;
	cli_human(d, sizeof(d), (double)done);
	cli_human(t, sizeof(t), (double)total);
	cli_human(rate, sizeof(rate), bps);
	if (bps > 0 && sized == ps->count && total >= done) {
		unsigned long left = (unsigned long)((double)(total - done) / bps + 0.5);
		snprintf(eta, sizeof(eta), "  %lu:%02lu left", left / 60, left % 60);
	}
	/* until every layer has started, the total is what is known so far */
	snprintf(line, sizeof(line), "layers %zu/%zu  %s / %s%s  %s/s%s", ps->done_layers, ps->count, d, t,
		 sized == ps->count ? "" : "+", rate, eta);
	cli_progress_line(ps, line, 0);
}

void cli_on_progress(const ccp_progress_event *ev, void *payload)
{
	progress_state *ps = payload;
	struct timespec now;
	char size[32], line[256];
	size_t i = ev->layer_index;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&ps->lock);
	progress_stages_done(ps, ev->layer_count);
	if (ev->kind != CCP_PROGRESS_ROOTFS && !ps->count && ev->layer_count) {
		ps->count = ev->layer_count;
		ps->start = now;
		ps->done = calloc(ps->count, sizeof(*ps->done));
		ps->total = calloc(ps->count, sizeof(*ps->total));
		ps->sized = calloc(ps->count, 1);
		if (!ps->done || !ps->total || !ps->sized) {
			free(ps->done);
			free(ps->total);
			free(ps->sized);
			ps->done = ps->total = NULL;
			ps->sized = NULL;
		}
	}
	if (ps->done && i < ps->count && ev->kind != CCP_PROGRESS_ROOTFS) {
		ps->total[i] = ev->total;
		ps->sized[i] = 1;
		if (ev->kind != CCP_PROGRESS_LAYER_START)
			ps->done[i] = ev->kind == CCP_PROGRESS_LAYER_DONE ? ev->total : ev->done;
	}
	switch (ev->kind) {
	case CCP_PROGRESS_LAYER_START:
	case CCP_PROGRESS_LAYER_BYTES:
		if (ps->status_shown && elapsed(&ps->last, &now) < 0.1)
			break;
		ps->last = now;
		progress_status(ps, &now);
		break;
	case CCP_PROGRESS_LAYER_DONE:
		ps->done_layers++;
		cli_human(size, sizeof(size), (double)ev->total);
		snprintf(line, sizeof(line), "layer %zu/%zu %.19s  %s  %s", i + 1, ev->layer_count,
			 ev->digest ? ev->digest : "", size, ev->reused ? "already in the store" : "verified");
		cli_progress_line(ps, line, 1);
		if (ps->done_layers < ps->count)
			progress_status(ps, &now);
		break;
	case CCP_PROGRESS_ROOTFS:
		cli_progress_line(ps, "assembling the rootfs", 0);
		break;
	}
	pthread_mutex_unlock(&ps->lock);
}

void cli_progress_free(progress_state *ps)
{
	if (ps->status_shown)
		cli_progress_line(ps, "", 0);
	free(ps->done);
	free(ps->total);
	free(ps->sized);
}
