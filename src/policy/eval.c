/*
 * Policy evaluation (containers/image policy_eval.go, policy_eval_signedby.go): every requirement of the
 * applicable scope must allow the image; a signed requirement is met by one accepted signature.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signature/signature.h"
#include "signature/sigstore.h"
#include "signature/sigstore_bundle.h"

#define KEY_FILE_MAX (4u << 20)
#define REASONS_MAX 2048

/* A signed requirement being evaluated as the signatures arrive. */
typedef struct req_state {
	const ccp_pr *pr;      /* NULL: not (yet) evaluated */
	int decided;           /* 0: still looking; 1: accepted; 2: rejected or failed, err says why */
	ccp_err err;
	ccp_gpg_keyring *kr;   /* signedBy keys, loaded when the first simple signature needs them */
	ccp_sigstore_trust *t; /* sigstoreSigned trust material, likewise */
	int key_err;           /* the keys or trust material could not be loaded: kerr says why */
	ccp_err kerr;
	ccp_buf reasons;
	size_t n_simple, n_other, n_attach, rejected;
} req_state;

typedef struct eval_ctx {
	const ccp_policy_image *img;
	char *image_ref;   /* as pulled */
	const ccp_buf *sigs; /* get_signatures' list */
	size_t n_sigs;
	size_t list_next;
	int listed;        /* get_signatures was called */
	size_t seen;       /* signatures looked at */
	int have_sigs;
	ccp_policy_explain *x; /* NULL: no explanation wanted */
	req_state *st;     /* one per requirement */
} eval_ctx;

static void finding_free(ccp_policy_finding *f)
{
	free(f->signer);
	free(f->identity);
	free(f->digest);
	free(f->reason);
	f->signer = f->identity = f->digest = f->reason = NULL;
}

static int set_str(char **slot, const char *v, ccp_err *e)
{
	free(*slot);
	if (!(*slot = strdup(v)))
		return ccp_err_oom(e);
	return 0;
}

/* Records what a requirement made of signature f->signature; f's strings move into the explanation. */
static int add_finding(eval_ctx *c, ccp_policy_finding *f, ccp_policy_verdict v, const char *reason, ccp_err *e)
{
	ccp_policy_finding *nv;

	if (!c->x) {
		finding_free(f);
		return 0;
	}
	f->verdict = v;
	if (reason && set_str(&f->reason, reason, e)) {
		finding_free(f);
		return CCP_ENOMEM;
	}
	if (!(nv = realloc(c->x->findings, (c->x->n_findings + 1) * sizeof(*nv)))) {
		finding_free(f);
		return ccp_err_oom(e);
	}
	c->x->findings = nv;
	c->x->findings[c->x->n_findings++] = *f;
	memset(f, 0, sizeof(*f));
	return 0;
}

/* The next signature of the image: 1 and *sig, 0 at the end, <0 when it could not be fetched. */
static int next_sig(eval_ctx *c, const ccp_buf **sig, ccp_err *e)
{
	int r;

	if (c->img->next_signature)
		return c->img->next_signature(c->img->payload, sig, e);
	if (!c->listed) {
		if (c->img->get_signatures && (r = c->img->get_signatures(c->img->payload, &c->sigs, &c->n_sigs, e)))
			return r;
		c->listed = 1;
	}
	if (c->list_next >= c->n_sigs)
		return 0;
	*sig = &c->sigs[c->list_next++];
	return 1;
}

static int load_keys(const ccp_pr *pr, ccp_gpg_keyring **kr, ccp_err *e)
{
	ccp_buf *blobs;
	size_t n = pr->has_key_data ? 1 : pr->n_key_paths;
	int r = 0;

	if (pr->has_key_data)
		return ccp_gpg_keyring_new(kr, &pr->key_data, 1, e);
	if (!(blobs = calloc(n ? n : 1, sizeof(*blobs))))
		return ccp_err_oom(e);
	for (size_t i = 0; i < n && !r; i++) {
		ccp_err re = CCP_ERR_INIT;
		if (pr->key_blobs && pr->key_blobs[i].data) {
			if (ccp_buf_append(&blobs[i], pr->key_blobs[i].data, pr->key_blobs[i].len))
				r = ccp_err_oom(e);
		} else if (ccp_resource_is_kbs(pr->key_paths[i])) {
			r = ccp_err_set(e, CCP_EPOLICY, "keyPath %.256s: the KBS resource was not fetched", pr->key_paths[i]);
		} else if (ccp_read_file(&blobs[i], pr->key_paths[i], KEY_FILE_MAX, &re)) {
			r = ccp_err_set(e, CCP_EPOLICY, "%s", re.msg);
		}
	}
	if (!r)
		r = ccp_gpg_keyring_new(kr, blobs, n, e);
	for (size_t i = 0; i < n; i++)
		ccp_buf_free_secure(&blobs[i]);
	free(blobs);
	return r;
}

/*
 * One simple signature against a signedBy requirement: 0 accepted, CCP_EPOLICY with the reason, or a hard
 * error. f (may be NULL) receives the signer, identity and digest as far as they were reached.
 */
static int check_one(eval_ctx *c, const ccp_pr *pr, ccp_gpg_keyring *kr, const unsigned char *sig, size_t len,
		     ccp_policy_finding *f, ccp_err *e)
{
	ccp_buf payload = CCP_BUF_INIT(CCP_SIG_PAYLOAD_MAX);
	ccp_sig_payload p = { 0 };
	ccp_digest signed_d, actual;
	char signer[130];
	int r;

	if ((r = ccp_gpg_verify(kr, sig, len, &payload, signer, sizeof(signer), e)))
		goto out;
	if (f && (r = set_str(&f->signer, signer, e)))
		goto out;
	if ((r = ccp_sig_payload_parse(&p, payload.data, payload.len, e)))
		goto out;
	if (f && ((r = set_str(&f->identity, p.docker_reference, e)) || (r = set_str(&f->digest, p.manifest_digest, e))))
		goto out;
	if ((r = ccp_digest_parse(&signed_d, p.manifest_digest, strlen(p.manifest_digest), e)))
		goto out;
	if ((r = ccp_sig_manifest_digest(&actual, c->img->manifest, c->img->manifest_len, e)))
		goto out;
	/* containers/image compares sha256 digests only. */
	if (signed_d.algo != CCP_SHA256 || !ccp_digest_equal(&signed_d, &actual)) {
		r = ccp_err_set(e, CCP_EPOLICY, "Signature for digest %s does not match", p.manifest_digest);
		goto out;
	}
	if (!ccp_prm_matches(&pr->identity, c->image_ref, p.docker_reference)) {
		r = ccp_err_set(e, CCP_EPOLICY, "Signature for identity \"%.300s\" is not accepted", p.docker_reference);
		goto out;
	}
out:
	ccp_sig_payload_free(&p);
	ccp_buf_free(&payload);
	return r;
}

/* A signature that is not even of a known format ends the requirement with that reason. */
static int unknown_format(eval_ctx *c, req_state *s, ccp_policy_finding *f, const ccp_err *se, ccp_err *e)
{
	if (add_finding(c, f, CCP_POLICY_REJECTED, se->msg, e) == CCP_ENOMEM)
		return CCP_ENOMEM;
	s->err = *se;
	s->decided = 2;
	return 0;
}

/* Records a refused signature and its reason; the message keeps what fits, a long list is cut. */
static int refuse(eval_ctx *c, req_state *s, ccp_policy_finding *f, const ccp_err *se, ccp_err *e)
{
	int r;

	if ((r = add_finding(c, f, CCP_POLICY_REJECTED, se->msg, e)))
		return r;
	s->rejected++;
	if (ccp_buf_printf(&s->reasons, "%s%s", s->rejected == 1 ? "" : "; ", se->msg) == CCP_ENOMEM)
		return ccp_err_oom(e);
	return 0;
}

/*
 * A simple signature against a signedBy requirement: 0 with se empty (accepted) or set (refused), or a hard
 * error (CCP_ENOMEM, CCP_EINTERNAL) in se.
 */
static int judge_signed_by(eval_ctx *c, req_state *s, const unsigned char *data, size_t dlen, ccp_policy_finding *f,
			   ccp_err *se)
{
	const ccp_pr *pr = s->pr;
	int r;

	if (strcmp(pr->key_type, "GPGKeys") != 0) {
		ccp_err_set(se, CCP_EPOLICY, "Unimplemented \"keyType\" value \"%s\"", pr->key_type);
		return 0;
	}
	if (!s->kr && !s->key_err) {
		if ((r = load_keys(pr, &s->kr, &s->kerr)) == CCP_ENOMEM) {
			*se = s->kerr;
			return r;
		}
		s->key_err = r != 0;
	}
	if (s->key_err) {
		*se = s->kerr;
		return 0;
	}
	r = check_one(c, pr, s->kr, data, dlen, f, se);
	return r == CCP_ENOMEM || r == CCP_EINTERNAL ? r : 0;
}

/* The signed digest and identity of a verified payload against the image (both kinds of signatures). */
static int check_claims(eval_ctx *c, const ccp_pr *pr, const ccp_sig_payload *p, ccp_policy_finding *f, ccp_err *e)
{
	ccp_digest signed_d, actual;
	int r;

	if (f && ((r = set_str(&f->identity, p->docker_reference, e)) || (r = set_str(&f->digest, p->manifest_digest, e))))
		return r;
	if ((r = ccp_digest_parse(&signed_d, p->manifest_digest, strlen(p->manifest_digest), e)))
		return r;
	if ((r = ccp_sig_manifest_digest(&actual, c->img->manifest, c->img->manifest_len, e)))
		return r;
	/* containers/image compares sha256 digests only. */
	if (signed_d.algo == CCP_SHA256 && !ccp_digest_equal(&signed_d, &actual) && c->img->index &&
	    (r = ccp_digest_compute(&actual, CCP_SHA256, c->img->index, c->img->index_len, e)))
		return r;
	if (signed_d.algo != CCP_SHA256 || !ccp_digest_equal(&signed_d, &actual))
		return ccp_err_set(e, CCP_EPOLICY, "Signature for digest %s does not match", p->manifest_digest);
	if (!ccp_prm_matches(&pr->identity, c->image_ref, p->docker_reference))
		return ccp_err_set(e, CCP_EPOLICY, "Signature for identity \"%.300s\" is not accepted", p->docker_reference);
	return 0;
}

static int is_bundle_mime(const char *mt)
{
	return strncmp(mt, CCP_BUNDLE_MEDIA_PREFIX, strlen(CCP_BUNDLE_MEDIA_PREFIX)) == 0;
}

/*
 * The statement of a verified bundle against the image: a subject whose sha256 is the manifest's (or the
 * verified index's it was chosen from), then signedIdentity. A subject with a name is held to it; one
 * without (cosign v3) binds the digest only and counts as naming the pulled repository, without a tag: it
 * satisfies matchRepository and exactRepository, never a rule that binds a tag.
 */
static int check_statement(eval_ctx *c, const ccp_pr *pr, const ccp_intoto *st, ccp_policy_finding *f, ccp_err *e)
{
	const ccp_intoto_subject *hit = NULL;
	ccp_digest actual, index_d;
	char hex[72], first[80] = "(none)";
	char *repo = NULL;
	const char *signed_ref;
	int r;

	if ((r = ccp_sig_manifest_digest(&actual, c->img->manifest, c->img->manifest_len, e)))
		return r;
	if (c->img->index && (r = ccp_digest_compute(&index_d, CCP_SHA256, c->img->index, c->img->index_len, e)))
		return r;
	for (size_t i = 0; i < st->n_subjects && !hit; i++) {
		const ccp_intoto_subject *s = &st->subjects[i];
		if (!s->has_sha256)
			continue;
		for (size_t k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", s->sha256[k]);
		if (strcmp(first, "(none)") == 0)
			snprintf(first, sizeof(first), "sha256:%.64s", hex);
		if (strcmp(hex, actual.hex) == 0 || (c->img->index && strcmp(hex, index_d.hex) == 0))
			hit = s;
	}
	if (!hit)
		return ccp_err_set(e, CCP_EPOLICY, "Signature (Sigstore bundle) for digest %s does not match the image",
				   first);
	if (f) {
		char ds[80];
		snprintf(ds, sizeof(ds), "sha256:%.64s", hex);
		if ((r = set_str(&f->digest, ds, e)) ||
		    (r = set_str(&f->identity, hit->name ? hit->name : "(none: the bundle names no image, it binds "
				 "the digest only)", e)))
			return r;
	}
	if (hit->name) {
		signed_ref = hit->name;
	} else {
		if (!(repo = ccp_ref_repository(c->img->ref)))
			return ccp_err_oom(e);
		signed_ref = repo;
	}
	if (!ccp_prm_matches(&pr->identity, c->image_ref, signed_ref)) {
		if (hit->name)
			r = ccp_err_set(e, CCP_EPOLICY, "Signature for identity \"%.300s\" is not accepted", hit->name);
		else
			r = ccp_err_set(e, CCP_EPOLICY, "The Sigstore bundle signs the manifest digest only and names no "
					"image (cosign v3 signatures do not), so it binds no tag: it satisfies signedIdentity "
					"{\"type\": \"matchRepository\"} (or exactRepository), not the policy's rule for "
					"%.300s", c->image_ref);
	}
	free(repo);
	return r;
}

/* A Sigstore bundle (cosign v3, OCI referrer): parse, verify with the requirement's trust, then the claims. */
static int check_bundle(eval_ctx *c, const ccp_pr *pr, const ccp_sigstore_trust *t, const ccp_sigstore_sig *sig,
			ccp_policy_finding *f, ccp_err *e)
{
	ccp_bundle b;
	ccp_intoto st;
	int r;

	if ((r = ccp_bundle_parse(&b, sig->payload.data ? sig->payload.data : "", sig->payload.len, e)))
		return r;
	if (!(r = ccp_bundle_verify(t, &b, (int64_t)time(NULL), &st, e))) {
		r = check_statement(c, pr, &st, f, e);
		ccp_intoto_free(&st);
	}
	ccp_bundle_free(&b);
	return r;
}

/* One sigstore signature body: 0 accepted, 1 not a signature (other attachment), CCP_EPOLICY, or a hard error. */
static int check_sigstore(eval_ctx *c, const ccp_pr *pr, const ccp_sigstore_trust *t, const unsigned char *data,
			  size_t len, ccp_policy_finding *f, ccp_err *e)
{
	ccp_sigstore_sig sig;
	ccp_sig_payload p = { 0 };
	int r;

	if ((r = ccp_sigstore_sig_parse(&sig, data, len, e)))
		return r;
	if (is_bundle_mime(sig.mime_type)) {
		r = check_bundle(c, pr, t, &sig, f, e);
		ccp_sigstore_sig_free(&sig);
		return r;
	}
	if (strcmp(sig.mime_type, CCP_SIGSTORE_MIME) != 0) {
		ccp_sigstore_sig_free(&sig);
		return 1;
	}
	if (!(r = ccp_sigstore_verify(t, &sig, (int64_t)time(NULL), &p, e)))
		r = check_claims(c, pr, &p, f, e);
	ccp_sig_payload_free(&p);
	ccp_sigstore_sig_free(&sig);
	return r;
}

/*
 * A sigstore signature against a sigstoreSigned requirement: 0 with se empty (accepted) or set (refused), 1 an
 * attachment that is not a signature, or a hard error (CCP_ENOMEM, CCP_EINTERNAL) in se.
 */
static int judge_sigstore(eval_ctx *c, req_state *s, const unsigned char *data, size_t dlen, ccp_policy_finding *f,
			  ccp_err *se)
{
	int r;

	/* Trust material is loaded once, when the first signature needs it; bad material rejects them all. */
	if (!s->t && !s->key_err) {
		if ((r = ccp_sigstore_trust_load(&s->t, s->pr->sigstore, &s->kerr)) == CCP_ENOMEM || r == CCP_EINTERNAL) {
			*se = s->kerr;
			return r;
		}
		s->key_err = r != 0;
	}
	if (s->key_err) {
		*se = s->kerr;
		return 0;
	}
	r = check_sigstore(c, s->pr, s->t, data, dlen, f, se);
	return r == CCP_ENOMEM || r == CCP_EINTERNAL || r == 1 ? r : 0;
}

/* Signature i against a signedBy or sigstoreSigned requirement still looking: 0 (s->decided tells), or a hard error. */
static int step(eval_ctx *c, req_state *s, size_t req, size_t i, const ccp_buf *sig, ccp_err *e)
{
	int signed_by = s->pr->type == CCP_PR_SIGNED_BY;
	const unsigned char *data;
	size_t dlen;
	ccp_sig_kind kind;
	ccp_err se = CCP_ERR_INIT;
	ccp_policy_finding f = { req, i, 0, 0, NULL, NULL, NULL, NULL };
	int r;

	if (ccp_sig_classify(sig->data, sig->len, &kind, &data, &dlen, &se))
		return unknown_format(c, s, &f, &se, e);
	f.kind = (int)kind;
	if (signed_by && kind != CCP_SIG_SIMPLE)
		return add_finding(c, &f, CCP_POLICY_SKIPPED, "not a simple signing signature: signedBy checks those "
				   "only", e);
	if (!signed_by && kind != CCP_SIG_SIGSTORE) {
		s->n_other++;
		return add_finding(c, &f, CCP_POLICY_SKIPPED, "not a sigstore signature: sigstoreSigned checks those "
				   "only", e);
	}
	if (signed_by)
		s->n_simple++;
	r = signed_by ? judge_signed_by(c, s, data, dlen, c->x ? &f : NULL, &se) :
		judge_sigstore(c, s, data, dlen, c->x ? &f : NULL, &se);
	if (r == 1) {
		s->n_attach++;
		return add_finding(c, &f, CCP_POLICY_SKIPPED, "a sigstore attachment that is not a signature", e);
	}
	if (r) {
		finding_free(&f);
		*e = se;
		return r;
	}
	if (!se.code) {
		s->decided = 1;
		return add_finding(c, &f, CCP_POLICY_ACCEPTED, NULL, e);
	}
	return refuse(c, s, &f, &se, e);
}

/* A requirement that saw every signature without accepting one: why it rejects the image. */
static void finish(req_state *s)
{
	const char *why = s->reasons.data ? s->reasons.data : "";

	if (s->decided)
		return;
	s->decided = 2;
	if (s->pr->type == CCP_PR_SIGNED_BY && s->n_simple == 0)
		ccp_err_set(&s->err, CCP_EPOLICY, "A signature was required, but no signature exists");
	else if (s->pr->type == CCP_PR_SIGSTORE_SIGNED && s->rejected == 0)
		ccp_err_set(&s->err, CCP_EPOLICY, "A signature was required, but no signature exists (%zu non-sigstore "
			    "signatures, %zu sigstore non-signature attachments)", s->n_other, s->n_attach);
	else if (s->rejected == 1)
		ccp_err_set(&s->err, CCP_EPOLICY, "%s", why);
	else
		ccp_err_set(&s->err, CCP_EPOLICY, "None of the signatures were accepted, reasons: %s", why);
}

/*
 * Evaluates the signed requirements from `from` up to the next one that rejects without looking at
 * signatures (reject, signedBaseLayer: evaluation never goes past it) in one pass over the signatures:
 * each is checked, as it arrives, against every requirement still looking, and none is asked for once
 * they have all decided (a signed requirement is met by one accepted signature). Only the signature at
 * hand is held. The outcome of each is left in c->st; the return is a hard error only.
 */
static int signed_pass(eval_ctx *c, const ccp_pr_list *reqs, size_t from, ccp_err *e)
{
	size_t end, pending = 0;
	int r;

	for (end = from; end < reqs->n; end++) {
		const ccp_pr *pr = &reqs->v[end];
		if (pr->type == CCP_PR_REJECT || pr->type == CCP_PR_SIGNED_BASE_LAYER)
			break;
		if (pr->type == CCP_PR_SIGNED_BY || pr->type == CCP_PR_SIGSTORE_SIGNED) {
			c->st[end].pr = pr;
			c->st[end].reasons.max = REASONS_MAX;
			pending++;
		}
	}
	while (pending) {
		const ccp_buf *sig;
		size_t i;

		if ((r = next_sig(c, &sig, e)) < 0)
			return r;
		if (r == 0)
			break;
		i = c->seen++;
		for (size_t k = from; k < end; k++) {
			req_state *s = &c->st[k];
			if (!s->pr || s->decided)
				continue;
			r = step(c, s, k, i, sig, e);
			if (r)
				return r;
			if (s->decided)
				pending--;
		}
	}
	c->have_sigs = 1;
	for (size_t k = from; k < end; k++)
		if (c->st[k].pr)
			finish(&c->st[k]);
	return 0;
}

static int finding_order(const void *a, const void *b)
{
	const ccp_policy_finding *x = a, *y = b;

	if (x->requirement != y->requirement)
		return x->requirement < y->requirement ? -1 : 1;
	return x->signature < y->signature ? -1 : x->signature > y->signature;
}

/*
 * The findings as a requirement-by-requirement evaluation records them: grouped by requirement, none
 * for a requirement after the one that ended the evaluation (from `stop` on).
 */
static void findings_tidy(ccp_policy_explain *x, size_t stop)
{
	size_t k = 0;

	for (size_t i = 0; i < x->n_findings; i++) {
		if (x->findings[i].requirement >= stop)
			finding_free(&x->findings[i]);
		else
			x->findings[k++] = x->findings[i];
	}
	x->n_findings = k;
	if (k > 1)
		qsort(x->findings, k, sizeof(*x->findings), finding_order);
}

const char *ccp_pr_type_name(ccp_pr_type t)
{
	switch (t) {
	case CCP_PR_INSECURE_ACCEPT_ANYTHING: return "insecureAcceptAnything";
	case CCP_PR_REJECT: return "reject";
	case CCP_PR_SIGNED_BY: return "signedBy";
	case CCP_PR_SIGSTORE_SIGNED: return "sigstoreSigned";
	case CCP_PR_SIGNED_BASE_LAYER: return "signedBaseLayer";
	}
	return "";
}

void ccp_policy_explain_free(ccp_policy_explain *x)
{
	if (!x)
		return;
	free(x->scope);
	for (size_t i = 0; x->outcomes && x->reqs && i < x->reqs->n; i++)
		free(x->outcomes[i].reason);
	free(x->outcomes);
	for (size_t i = 0; i < x->n_findings; i++)
		finding_free(&x->findings[i]);
	free(x->findings);
	memset(x, 0, sizeof(*x));
}

/* The scope and one outcome slot per requirement, before anything is evaluated. */
static int explain_start(ccp_policy_explain *x, const ccp_pr_list *reqs, const char *scope, ccp_err *e)
{
	x->have_scope = 1;
	if (scope && !(x->scope = strdup(scope)))
		return ccp_err_oom(e);
	if (!(x->outcomes = calloc(reqs->n ? reqs->n : 1, sizeof(*x->outcomes))))
		return ccp_err_oom(e);
	x->reqs = reqs;
	return 0;
}

int ccp_policy_evaluate(const ccp_policy *p, const ccp_policy_image *img, ccp_err *e)
{
	return ccp_policy_evaluate_explain(p, img, NULL, e);
}

int ccp_policy_evaluate_explain(const ccp_policy *p, const ccp_policy_image *img, ccp_policy_explain *x,
				ccp_err *e)
{
	eval_ctx c;
	const ccp_pr_list *reqs;
	const char *scope;
	char scope_desc[300];
	size_t i;
	int r = 0;

	memset(&c, 0, sizeof(c));
	c.img = img;
	c.x = x;
	if ((r = ccp_policy_requirements_for(p, img->ref, &reqs, &scope, e)))
		return r;
	if (x && (r = explain_start(x, reqs, scope, e)))
		return r;
	if (!(c.st = calloc(reqs->n ? reqs->n : 1, sizeof(*c.st))))
		return ccp_err_oom(e);
	if (!(c.image_ref = ccp_ref_string(img->ref))) {
		free(c.st);
		return ccp_err_oom(e);
	}
	if (scope)
		snprintf(scope_desc, sizeof(scope_desc), "transports.docker[\"%.250s\"]", scope);
	else
		snprintf(scope_desc, sizeof(scope_desc), "default");
	for (i = 0; i < reqs->n && !r; i++) {
		const ccp_pr *pr = &reqs->v[i];
		switch (pr->type) {
		case CCP_PR_INSECURE_ACCEPT_ANYTHING:
			break;
		case CCP_PR_REJECT:
			r = ccp_err_set(e, CCP_EPOLICY, "Running image %s is rejected by policy.", c.image_ref);
			break;
		case CCP_PR_SIGNED_BY:
		case CCP_PR_SIGSTORE_SIGNED:
			/* the first signed requirement evaluates the ones after it in the same pass */
			if (!c.st[i].pr && (r = signed_pass(&c, reqs, i, e)))
				break;
			if (c.st[i].decided == 2) {
				*e = c.st[i].err;
				r = e->code;
			}
			break;
		case CCP_PR_SIGNED_BASE_LAYER:
			r = ccp_err_set(e, CCP_EPOLICY, "signedBaseLayer not implemented yet!");
			break;
		}
		if (x && !r)
			x->outcomes[i].verdict = CCP_POLICY_ACCEPTED;
		if (x && r == CCP_EPOLICY) {
			x->outcomes[i].verdict = CCP_POLICY_REJECTED;
			if (!(x->outcomes[i].reason = strdup(e->msg)))
				r = ccp_err_oom(e);
		}
		if (r)
			ccp_err_wrap(e, "image %s rejected by the signature policy (scope %s, requirement %zu of %zu)",
				     c.image_ref, scope_desc, i + 1, reqs->n);
	}
	if (x)
		findings_tidy(x, i);
	/* containers/image stops at the first requirement that rejects: the rest were not looked at */
	for (; x && i < reqs->n; i++)
		x->outcomes[i].verdict = CCP_POLICY_SKIPPED;
	if (x && c.have_sigs && (img->get_signatures || img->next_signature)) {
		x->have_signatures = 1;
		x->n_signatures = img->next_signature ? c.seen : c.n_sigs;
	}
	for (i = 0; i < reqs->n; i++) {
		ccp_buf_free(&c.st[i].reasons);
		ccp_gpg_keyring_free(c.st[i].kr);
		ccp_sigstore_trust_free(c.st[i].t);
	}
	free(c.st);
	free(c.image_ref);
	return r;
}
