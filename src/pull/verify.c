/*
 * ccp_verify: the signature policy's decision for an image and what led to it (ccpull verify). The
 * same gate as a pull, on the same resolved image, with the policy's explanation recorded; no layer
 * is fetched and nothing is written.
 */
#include "pull/pull_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccpull/verify.h"

struct ccp_verify_result {
	char *image;
	char manifest_digest[CCP_DIGEST_STR_MAX];
	int accepted;
	const char *reason;
	const char *scope;            /* NULL: "default" */
	const char *store;
	size_t total;
	ccp_verify_requirement *reqs;
	size_t n_reqs;
	ccp_verify_signature *sigs;
	size_t n_sigs;
	char **pool;                  /* every string the result owns */
	size_t n_pool;
};

/* A copy of s owned by res (NULL s gives ""); NULL when out of memory. */
static const char *keep(ccp_verify_result *res, const char *s)
{
	char **nv, *c;

	if (!s || !*s)
		return "";
	if (!(nv = realloc(res->pool, (res->n_pool + 1) * sizeof(*nv))))
		return NULL;
	res->pool = nv;
	if (!(c = strdup(s)))
		return NULL;
	res->pool[res->n_pool++] = c;
	return c;
}

static int add_src(ccp_buf *b, const char *label, const ccp_sigstore_src *s)
{
	if (s->path)
		return ccp_buf_printf(b, "%s%s %s", b->len ? ", " : "", label, s->path);
	return ccp_buf_printf(b, "%s%s (inline, %zu bytes)", b->len ? ", " : "", label, s->data.len);
}

/* The trust material of a requirement, in the policy's words. */
static int describe_keys(ccp_buf *b, const ccp_pr *pr)
{
	const ccp_sigstore_policy *sp = pr->sigstore;
	int r = 0;

	if (pr->type == CCP_PR_SIGNED_BY) {
		if (pr->has_key_data)
			return ccp_buf_printf(b, "%s keyData (inline, %zu bytes)", pr->key_type, pr->key_data.len);
		r = ccp_buf_printf(b, "%s %s", pr->key_type, pr->n_key_paths == 1 ? "keyPath" : "keyPaths");
		for (size_t i = 0; !r && i < pr->n_key_paths; i++)
			r = ccp_buf_printf(b, "%s%s", i ? ", " : " ", pr->key_paths[i]);
		return r;
	}
	if (pr->type != CCP_PR_SIGSTORE_SIGNED || !sp)
		return 0;
	for (size_t i = 0; !r && i < sp->n_keys; i++)
		r = add_src(b, "public key", &sp->keys[i]);
	if (!r && sp->has_fulcio) {
		r = add_src(b, "Fulcio CA", &sp->fulcio_ca);
		if (!r)
			r = ccp_buf_printf(b, " (issuer %s, email %s)", sp->fulcio_issuer ? sp->fulcio_issuer : "",
					   sp->fulcio_email ? sp->fulcio_email : "");
	}
	for (size_t i = 0; !r && i < sp->n_rekor_keys; i++)
		r = add_src(b, "Rekor key", &sp->rekor_keys[i]);
	if (!r && sp->has_pki) {
		r = add_src(b, "PKI roots", &sp->pki_roots);
		if (!r && sp->has_pki_intermediates)
			r = add_src(b, "PKI intermediates", &sp->pki_intermediates);
		if (!r && sp->pki_email)
			r = ccp_buf_printf(b, " (email %s)", sp->pki_email);
		if (!r && sp->pki_hostname)
			r = ccp_buf_printf(b, " (hostname %s)", sp->pki_hostname);
	}
	return r;
}

static int describe_identity(ccp_buf *b, const ccp_pr *pr)
{
	const ccp_prm *m = &pr->identity;

	if (pr->type != CCP_PR_SIGNED_BY && pr->type != CCP_PR_SIGSTORE_SIGNED)
		return 0;
	switch (m->type) {
	case CCP_PRM_MATCH_EXACT: return ccp_buf_puts(b, "matchExact");
	case CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT: return ccp_buf_puts(b, "matchRepoDigestOrExact");
	case CCP_PRM_MATCH_REPOSITORY: return ccp_buf_puts(b, "matchRepository");
	case CCP_PRM_EXACT_REFERENCE: return ccp_buf_printf(b, "exactReference dockerReference=%s", m->a);
	case CCP_PRM_EXACT_REPOSITORY: return ccp_buf_printf(b, "exactRepository dockerRepository=%s", m->a);
	case CCP_PRM_REMAP_IDENTITY: return ccp_buf_printf(b, "remapIdentity prefix=%s signedPrefix=%s", m->a, m->b);
	}
	return 0;
}

static const char *format_name(int kind)
{
	return kind == CCP_SIG_SIMPLE ? "simple-signing" : kind == CCP_SIG_SIGSTORE ? "sigstore" : "unknown";
}

/* The public verdict of the policy engine's (0, no verdict reached, stays 0). */
static ccp_verdict verdict_of(ccp_policy_verdict v)
{
	switch (v) {
	case CCP_POLICY_ACCEPTED: return CCP_VERDICT_ACCEPTED;
	case CCP_POLICY_REJECTED: return CCP_VERDICT_REJECTED;
	case CCP_POLICY_SKIPPED: return CCP_VERDICT_SKIPPED;
	}
	return (ccp_verdict)0;
}

/* Turns the gate's report into the result's public records. */
static int fill(ccp_verify_result *res, const ccp_gate_report *rep, ccp_err *e)
{
	const ccp_policy_explain *x = &rep->explain;
	size_t n = x->reqs ? x->reqs->n : 0;

	/* transports.docker[""] ("") is a scope of its own, unlike "default" (NULL) */
	if (x->scope && !(res->scope = keep(res, x->scope)))
		return ccp_err_oom(e);
	if (!(res->store = keep(res, rep->signature_store)))
		return ccp_err_oom(e);
	res->total = x->have_signatures ? x->n_signatures : 0;
	if (!(res->reqs = calloc(n ? n : 1, sizeof(*res->reqs))) ||
	    !(res->sigs = calloc(x->n_findings ? x->n_findings : 1, sizeof(*res->sigs))))
		return ccp_err_oom(e);
	for (size_t i = 0; i < n; i++) {
		const ccp_pr *pr = &x->reqs->v[i];
		ccp_verify_requirement *q = &res->reqs[i];
		ccp_buf keys = CCP_BUF_INIT(0), id = CCP_BUF_INIT(0);
		int r = describe_keys(&keys, pr) || describe_identity(&id, pr);

		q->type = ccp_pr_type_name(pr->type);
		q->verdict = verdict_of(x->outcomes[i].verdict);
		if (!r) {
			q->keys = keep(res, keys.data);
			q->signed_identity = keep(res, id.data);
			q->reason = keep(res, x->outcomes[i].reason);
		}
		ccp_buf_free(&keys);
		ccp_buf_free(&id);
		if (r || !q->keys || !q->signed_identity || !q->reason)
			return ccp_err_oom(e);
		res->n_reqs++;
	}
	for (size_t i = 0; i < x->n_findings; i++) {
		const ccp_policy_finding *f = &x->findings[i];
		ccp_verify_signature *s = &res->sigs[i];

		s->requirement = f->requirement;
		s->index = f->signature;
		s->format = format_name(f->kind);
		s->source = f->signature < rep->n_sources && rep->sources[f->signature] ? rep->sources[f->signature] : "";
		s->verdict = verdict_of(f->verdict);
		if (!(s->signer = keep(res, f->signer)) || !(s->identity = keep(res, f->identity)) ||
		    !(s->digest = keep(res, f->digest)) || !(s->reason = keep(res, f->reason)))
			return ccp_err_oom(e);
		res->n_sigs++;
	}
	return 0;
}

int ccp_verify(ccp_verify_result **out, ccp_context *ctx, const char *image, const ccp_pull_options *opts)
{
	ccp_pull_options defaults = CCP_PULL_OPTIONS_INIT;
	const ccp_pull_options *o = opts ? opts : &defaults;
	ccp_err e = CCP_ERR_INIT;
	ccp_policy_gate *gate = NULL;
	ccp_gate_report rep;
	resolved_image rv;
	ccp_verify_result *res = NULL;
	ccp_cancel local, *cancel;
	int r, resolved = 0;

	memset(&rep, 0, sizeof(rep));
	ccp_call_warnings(ctx, o);
	if (!out || !image) {
		r = ccp_err_set(&e, CCP_EINVALID, "ccp_verify: out and image are required");
		goto done;
	}
	*out = NULL;
	if ((r = ccp_check_common_options(o, &e)))
		goto done;
	if (o->trust.insecure_policy) {
		r = ccp_err_set(&e, CCP_EINVALID, "verify evaluates the signature policy: with --insecure-policy "
				"there is nothing to verify");
		goto done;
	}
	/* the policy first: an unusable one is refused before any network access, as for a pull */
	cancel = ccp_call_cancel(ctx, &local, o);
	if ((r = ccp_policy_gate_prepare(&gate, o, cancel, &e)))
		goto done;
	resolved = 1;
	if ((r = ccp_resolve_image(&rv, image, o, cancel, &e)))
		goto done;
	r = ccp_policy_gate_explain(gate, &rv, &rep, &e);
	if (r && r != CCP_EPOLICY)
		goto done;
	if (!(res = calloc(1, sizeof(*res))) || !(res->image = strdup(rv.image))) {
		r = ccp_err_oom(&e);
		goto done;
	}
	ccp_digest_str(&rv.man_digest, res->manifest_digest);
	res->accepted = r == 0;
	res->reason = r ? keep(res, e.msg) : "";
	if (!res->reason) {
		r = ccp_err_oom(&e);
		goto done;
	}
	if (fill(res, &rep, &e)) {
		r = e.code;
		goto done;
	}
	*out = res;
	res = NULL;
done:
	ccp_verify_result_free(res);
	ccp_gate_report_free(&rep);
	if (resolved)
		ccp_resolved_image_free(&rv);
	ccp_policy_gate_free(gate);
	return ccp_context_finish(ctx, r, &e);
}

void ccp_verify_result_free(ccp_verify_result *res)
{
	if (!res)
		return;
	free(res->image);
	free(res->reqs);
	free(res->sigs);
	for (size_t i = 0; i < res->n_pool; i++)
		free(res->pool[i]);
	free(res->pool);
	free(res);
}

const char *ccp_verify_result_image(const ccp_verify_result *res) { return res->image; }
const char *ccp_verify_result_manifest_digest(const ccp_verify_result *res) { return res->manifest_digest; }
int ccp_verify_result_accepted(const ccp_verify_result *res) { return res->accepted; }
const char *ccp_verify_result_reason(const ccp_verify_result *res) { return res->reason; }
const char *ccp_verify_result_scope(const ccp_verify_result *res) { return res->scope; }
const char *ccp_verify_result_signature_store(const ccp_verify_result *res) { return res->store; }
size_t ccp_verify_result_signature_total(const ccp_verify_result *res) { return res->total; }
size_t ccp_verify_result_requirement_count(const ccp_verify_result *res) { return res->n_reqs; }
size_t ccp_verify_result_signature_count(const ccp_verify_result *res) { return res->n_sigs; }

const ccp_verify_requirement *ccp_verify_result_requirement(const ccp_verify_result *res, size_t i)
{
	return i < res->n_reqs ? &res->reqs[i] : NULL;
}

const ccp_verify_signature *ccp_verify_result_signature(const ccp_verify_result *res, size_t i)
{
	return i < res->n_sigs ? &res->sigs[i] : NULL;
}

const char *ccp_verdict_name(ccp_verdict v)
{
	switch (v) {
	case CCP_VERDICT_ACCEPTED: return "accepted";
	case CCP_VERDICT_REJECTED: return "rejected";
	case CCP_VERDICT_SKIPPED: return "skipped";
	}
	return "";
}
