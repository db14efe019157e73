/*
 * The resources of a pull: kbs:/// URIs in the options (policy, keys, registries.d, auth.json,
 * registries.conf, CA certificates) are fetched through the KBS client's resource source
 * (ccp_kbs_source), which also reads the offline resources file. They stay in memory; a CA bundle,
 * which libcurl takes by path, goes to a memfd. Also what a context records of each call: its
 * warnings and its last error.
 */
#include "pull/pull_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int ccp_pull_resources_init(ccp_pull_resources *res, const ccp_pull_options *o, const ccp_cancel *cancel,
			    ccp_err *e)
{
	int r;

	memset(res, 0, sizeof(*res));
	res->kc.url = o->kbs.url;
	res->kc.attester = o->kbs.attester;
	res->kc.cert = o->kbs.cert;
	res->kc.offline = o->kbs.resources;
	res->kc.aa_socket = o->kbs.aa_socket;
	res->kc.deadline_ms = cancel ? cancel->deadline_ms : ccp_registry_deadline(o->timeout_s);
	res->kc.cancel = cancel;
	if ((r = ccp_kbs_key_type(&res->kc.rsa, o->kbs.key_type, e)))
		return r;
	if (o->kbs.url || o->kbs.resources)
		ccp_kbs_source(&res->src, &res->kc);
	return 0;
}

ccp_cancel *ccp_call_cancel(ccp_context *ctx, ccp_cancel *local, const ccp_pull_options *o)
{
	ccp_cancel *c = ctx ? &ctx->cancel : local;

	if (!ctx)
		atomic_init(&local->flag, 0);
	c->deadline_ms = ccp_registry_deadline(o->timeout_s);
	return c;
}

void ccp_call_warnings(ccp_context *ctx, const ccp_pull_options *o)
{
	if (!ctx)
		return;
	ctx->last_error[0] = '\0';
	ctx->n_warnings = 0;
	/* The KBS releases the policy, its keys and the layer keys: over plain HTTP anyone on the
	 * path can be the KBS (DESIGN.md: the network is hostile). Allowed for test setups, never silently. */
	if (o && o->kbs.url && strncmp(o->kbs.url, "http://", 7) == 0)
		snprintf(ctx->warnings[ctx->n_warnings++], CCP_WARNING_LEN,
			 "KBS %.256s is reached over plain HTTP: nothing authenticates it, yet it releases the "
			 "signature policy, its keys and the decryption keys (use https://)", o->kbs.url);
}

int ccp_context_finish(ccp_context *ctx, int r, const ccp_err *e)
{
	if (ctx)
		snprintf(ctx->last_error, sizeof(ctx->last_error), "%s",
			 !r ? "" : e && e->msg[0] ? e->msg : ccp_strerror(r));
	return r;
}

const char *ccp_context_warning(const ccp_context *ctx, size_t i)
{
	return ctx && i < ctx->n_warnings ? ctx->warnings[i] : NULL;
}

size_t ccp_context_warning_count(const ccp_context *ctx)
{
	return ctx ? ctx->n_warnings : 0;
}

int ccp_pull_memfile(int *fd, char path[CCP_MEMFILE_PATH_MAX], const char *uri, const ccp_resource_src *src,
		     const char *what, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(0);
	size_t off = 0;
	int r;

	*fd = -1;
	if ((r = ccp_resource_read(&b, uri, 0, src, what, e)))
		return r;
	if ((*fd = memfd_create("ccpull-resource", MFD_CLOEXEC)) < 0) {
		r = ccp_err_errno(e, CCP_EINTERNAL, errno, "%s %.256s: memfd_create", what, uri);
		goto out;
	}
	while (off < b.len) {
		ssize_t n = write(*fd, b.data + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = ccp_err_errno(e, CCP_EINTERNAL, errno, "%s %.256s: writing the memfd", what, uri);
			goto out;
		}
		off += (size_t)n;
	}
	snprintf(path, CCP_MEMFILE_PATH_MAX, "/proc/self/fd/%d", *fd);
out:
	ccp_buf_free_secure(&b);
	if (r && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}
