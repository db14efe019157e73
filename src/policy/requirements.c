/*
 * The policy requirements of containers-policy.json (insecureAcceptAnything, reject, signedBy,
 * sigstoreSigned, signedBaseLayer), each object strict, and signedIdentity: its parsing and its
 * matching of a signed reference against the image (docker references as
 * reference.ParseNormalizedNamed sees them).
 */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signature/signature.h"
#include "util/json.h"

#define MAX_KEY_PATHS 1024

/* Optional string member: absent -> *out NULL; null -> "" (Go leaves the string empty); else a string. */
static int opt_string(const json_t *obj, const char *key, const char **out, const char *what, ccp_err *e)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (json_is_null(v)) {
		*out = "";
		return 0;
	}
	if (!json_is_string(v))
		return ccp_policy_bad(e, what, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* containers/image validateIdentityRemappingPrefix: a domain, or a name that starts with a domain. */
static int remap_prefix_ok(const char *s)
{
	size_t n = strlen(s);
	const char *slash = memchr(s, '/', n);

	if (ccp_ref_domain_ok(s, n))
		return 1;
	return slash && ccp_ref_domain_ok(s, (size_t)(slash - s)) &&
	       ccp_ref_path_ok(slash + 1, n - (size_t)(slash - s) - 1);
}

/* ---- docker references as reference.ParseNormalizedNamed sees them ---- */

typedef struct named {
	ccp_ref ref;
	int name_only;
	char *name;  /* domain/path */
	char *str;   /* String(): name[:tag][@digest], no default tag */
} named;

static void named_free(named *n)
{
	ccp_ref_free(&n->ref);
	free(n->name);
	free(n->str);
}

/* Returns 0 or -1 (unparsable or OOM: both mean "no match" to callers). */
static int named_parse(named *n, const char *s)
{
	ccp_err e = CCP_ERR_INIT;
	const char *last, *at;

	memset(n, 0, sizeof(*n));
	if (!s || !*s || strncmp(s, "docker://", 9) == 0 || ccp_ref_parse(&n->ref, s, &e))
		return -1;
	/* ccp_ref_parse adds ":latest" to a bare name; the tag is real only if the last component has one. */
	last = strrchr(s, '/');
	last = last ? last + 1 : s;
	at = strchr(last, '@');
	n->name_only = !n->ref.has_digest && !memchr(last, ':', at ? (size_t)(at - last) : strlen(last));
	if (n->name_only) {
		free(n->ref.tag);
		n->ref.tag = NULL;
	}
	n->name = ccp_ref_repository(&n->ref);
	n->str = ccp_ref_string(&n->ref);
	if (!n->name || !n->str) {
		named_free(n);
		return -1;
	}
	return 0;
}

/* matchRepoDigestOrExact on parsed values. */
static int repo_digest_or_exact(const named *img, const named *sig)
{
	if (sig->name_only)
		return 0;
	if (img->ref.tag)
		return strcmp(sig->str, img->str) == 0;
	if (img->ref.has_digest)
		return strcmp(sig->name, img->name) == 0;
	return 0;
}

static int exact(const named *a, const named *b)
{
	return !a->name_only && !b->name_only && strcmp(a->str, b->str) == 0;
}

/* refMatchesPrefix: the prefix ends at a component, tag or digest boundary of ref. */
static int ref_matches_prefix(const char *ref, const char *prefix)
{
	size_t rl = strlen(ref), pl = strlen(prefix);

	if (rl < pl || memcmp(ref, prefix, pl) != 0)
		return 0;
	return rl == pl || ref[pl] == ':' || ref[pl] == '/' || ref[pl] == '@';
}

int ccp_prm_matches(const ccp_prm *m, const char *image_ref, const char *signed_ref)
{
	named img, sig;
	int res = 0;

	/* exactReference/exactRepository compare with the policy's value instead of the image. */
	const char *left = m->type == CCP_PRM_EXACT_REFERENCE || m->type == CCP_PRM_EXACT_REPOSITORY ? m->a : image_ref;

	if (named_parse(&img, left))
		return 0;
	if (named_parse(&sig, signed_ref)) {
		named_free(&img);
		return 0;
	}
	switch (m->type) {
	case CCP_PRM_MATCH_EXACT:
	case CCP_PRM_EXACT_REFERENCE:
		res = exact(&img, &sig);
		break;
	case CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT:
		res = repo_digest_or_exact(&img, &sig);
		break;
	case CCP_PRM_MATCH_REPOSITORY:
	case CCP_PRM_EXACT_REPOSITORY:
		res = strcmp(img.name, sig.name) == 0;
		break;
	case CCP_PRM_REMAP_IDENTITY:
		if (ref_matches_prefix(img.str, m->a)) {
			/* Replace the prefix and re-parse; the result must be fully qualified (ParseNamed). */
			size_t bl = strlen(m->b), sl = strlen(img.str) - strlen(m->a);
			char *s = malloc(bl + sl + 1);
			named mapped;
			if (!s)
				break;
			memcpy(s, m->b, bl);
			memcpy(s + bl, img.str + strlen(m->a), sl + 1);
			if (named_parse(&mapped, s) == 0) {
				if (strcmp(mapped.str, s) == 0)
					res = repo_digest_or_exact(&mapped, &sig);
				named_free(&mapped);
			}
			free(s);
		} else {
			res = repo_digest_or_exact(&img, &sig);
		}
		break;
	}
	named_free(&img);
	named_free(&sig);
	return res;
}

/* ---- parsing ---- */

static void prm_free(ccp_prm *m)
{
	free(m->a);
	free(m->b);
	memset(m, 0, sizeof(*m));
}

void ccp_policy_pr_free(ccp_pr *r)
{
	free(r->key_type);
	for (size_t i = 0; i < r->n_key_paths; i++) {
		free(r->key_paths[i]);
		if (r->key_blobs)
			ccp_buf_free_secure(&r->key_blobs[i]);
	}
	free(r->key_paths);
	free(r->key_blobs);
	ccp_buf_free(&r->key_data);
	prm_free(&r->identity);
	ccp_sigstore_policy_free(r->sigstore);
	free(r->sigstore);
	memset(r, 0, sizeof(*r));
}

void ccp_policy_pr_list_free(ccp_pr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		ccp_policy_pr_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void ccp_policy_free(ccp_policy *p)
{
	if (!p)
		return;
	ccp_policy_pr_list_free(&p->def);
	for (size_t i = 0; i < p->n_docker; i++) {
		free(p->docker[i].name);
		ccp_policy_pr_list_free(&p->docker[i].reqs);
	}
	free(p->docker);
	memset(p, 0, sizeof(*p));
}

int ccp_policy_dup_to(char **out, const char *s, ccp_err *e)
{
	if (!(*out = strdup(s)))
		return ccp_err_oom(e);
	return 0;
}

static int parse_prm(ccp_prm *m, const json_t *j, const char *what, ccp_err *e)
{
	static const char *const k_type[] = { "type" };
	static const char *const k_ref[] = { "type", "dockerReference" };
	static const char *const k_repo[] = { "type", "dockerRepository" };
	static const char *const k_remap[] = { "type", "prefix", "signedPrefix" };
	const char *type = NULL, *a = NULL, *b = NULL;
	named n;
	int r;

	memset(m, 0, sizeof(*m));
	/* null reads as an object without a type, as Go's decoder sees it. */
	if (json_is_null(j))
		return ccp_policy_bad(e, what, "%s", "Unknown policy reference match type \"\"");
	if (!json_is_object(j))
		return ccp_policy_bad(e, what, "%s", "signedIdentity must be a JSON object");
	if ((r = opt_string(j, "type", &type, what, e)))
		return r;
	if (!type)
		type = "";
	if (strcmp(type, "matchExact") == 0 || strcmp(type, "matchRepoDigestOrExact") == 0 ||
	    strcmp(type, "matchRepository") == 0) {
		m->type = type[5] == 'E' ? CCP_PRM_MATCH_EXACT : type[5] == 'R' && type[9] == 'D' ?
			  CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT : CCP_PRM_MATCH_REPOSITORY;
		return ccp_policy_check_keys(j, k_type, 1, 1, what, e);
	}
	if (strcmp(type, "exactReference") == 0) {
		if ((r = ccp_policy_check_keys(j, k_ref, 2, 1, what, e)) || (r = opt_string(j, "dockerReference", &a, what, e)))
			return r;
		if (named_parse(&n, a))
			return ccp_policy_bad(e, what, "Invalid format of dockerReference \"%.256s\"", a);
		r = n.name_only;
		named_free(&n);
		if (r)
			return ccp_policy_bad(e, what, "dockerReference \"%.256s\" contains neither a tag nor digest", a);
		m->type = CCP_PRM_EXACT_REFERENCE;
		return ccp_policy_dup_to(&m->a, a, e);
	}
	if (strcmp(type, "exactRepository") == 0) {
		if ((r = ccp_policy_check_keys(j, k_repo, 2, 1, what, e)) || (r = opt_string(j, "dockerRepository", &a, what, e)))
			return r;
		if (named_parse(&n, a))
			return ccp_policy_bad(e, what, "Invalid format of dockerRepository \"%.256s\"", a);
		named_free(&n);
		m->type = CCP_PRM_EXACT_REPOSITORY;
		return ccp_policy_dup_to(&m->a, a, e);
	}
	if (strcmp(type, "remapIdentity") == 0) {
		if ((r = ccp_policy_check_keys(j, k_remap, 3, 1, what, e)) || (r = opt_string(j, "prefix", &a, what, e)) ||
		    (r = opt_string(j, "signedPrefix", &b, what, e)))
			return r;
		if (!remap_prefix_ok(a))
			return ccp_policy_bad(e, what, "prefix \"%.256s\" is not valid", a);
		if (!remap_prefix_ok(b))
			return ccp_policy_bad(e, what, "prefix \"%.256s\" is not valid", b);
		m->type = CCP_PRM_REMAP_IDENTITY;
		if ((r = ccp_policy_dup_to(&m->a, a, e)) || (r = ccp_policy_dup_to(&m->b, b, e))) {
			prm_free(m);
			return r;
		}
		return 0;
	}
	return ccp_policy_bad(e, what, "Unknown policy reference match type \"%.200s\"", type);
}

static int b64_member(ccp_buf *out, const json_t *j, const char *key, const char *what, ccp_err *e)
{
	const json_t *v = json_object_get(j, key);
	int r;

	if (!json_is_string(v))
		return ccp_policy_bad(e, what, "\"%s\" must be a base64 string", key);
	out->max = CCP_POLICY_MAX;
	r = ccp_b64_decode_go(out, json_string_value(v), json_string_length(v));
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	if (r)
		return ccp_policy_bad(e, what, "\"%s\" is not valid base64", key);
	return 0;
}

static int string_array(const json_t *j, const char *key, char ***out, size_t *n, const char *what, ccp_err *e)
{
	const json_t *arr = json_object_get(j, key), *v;
	size_t i;

	if (!json_is_array(arr))
		return ccp_policy_bad(e, what, "\"%s\" must be an array of strings", key);
	if (json_array_size(arr) > MAX_KEY_PATHS)
		return ccp_policy_bad(e, what, "\"%s\" has too many entries", key);
	if (!(*out = calloc(json_array_size(arr) + 1, sizeof(char *))))
		return ccp_err_oom(e);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return ccp_policy_bad(e, what, "\"%s\" must be an array of strings", key);
		if (!((*out)[i] = strdup(json_string_value(v))))
			return ccp_err_oom(e);
		*n = i + 1;
	}
	return 0;
}

static int parse_signed_by(ccp_pr *pr, const json_t *j, const char *what, ccp_err *e)
{
	static const char *const keys[] = { "type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity" };
	static const char *const key_types[] = { "GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs" };
	const json_t *kp = json_object_get(j, "keyPath"), *kps = json_object_get(j, "keyPaths");
	const json_t *kd = json_object_get(j, "keyData"), *si = json_object_get(j, "signedIdentity");
	const char *kt = NULL, *path = NULL;
	int r, sources = 0;
	size_t i;

	if ((r = ccp_policy_check_keys(j, keys, 6, 0, what, e)) || (r = opt_string(j, "keyType", &kt, what, e)))
		return r;
	if (kt && *kt) {
		for (i = 0; i < 4 && strcmp(kt, key_types[i]) != 0; i++)
			;
		if (i == 4)
			return ccp_policy_bad(e, what, "Unrecognized keyType value \"%.200s\"", kt);
	}
	if (si) {
		if ((r = parse_prm(&pr->identity, si, what, e)))
			return r;
	} else {
		pr->identity.type = CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT;
	}
	if (!kp && !kps && !kd)
		return ccp_policy_bad(e, what, "%s", "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present");
	if (!!kp + !!kps + !!kd > 1)
		return ccp_policy_bad(e, what, "%s", "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present");
	if (!kt || !*kt)
		return ccp_policy_bad(e, what, "%s", "invalid keyType \"\"");
	if ((r = ccp_policy_dup_to(&pr->key_type, kt, e)))
		return r;
	/* Go's zero values: keyPath "" or null, keyPaths null and keyData null count as absent. */
	if (kp && (r = opt_string(j, "keyPath", &path, what, e)))
		return r;
	if (path && *path) {
		if (!(pr->key_paths = calloc(1, sizeof(char *))))
			return ccp_err_oom(e);
		if ((r = ccp_policy_dup_to(&pr->key_paths[0], path, e)))
			return r;
		pr->n_key_paths = 1;
		sources++;
	}
	if (kps && !json_is_null(kps)) {
		if ((r = string_array(j, "keyPaths", &pr->key_paths, &pr->n_key_paths, what, e)))
			return r;
		sources++;
	}
	if (kd && !json_is_null(kd)) {
		if ((r = b64_member(&pr->key_data, j, "keyData", what, e)))
			return r;
		pr->has_key_data = 1;
		sources++;
	}
	if (sources != 1)
		return ccp_policy_bad(e, what, "%s", "exactly one of keyPath, keyPaths and keyData must be specified");
	return 0;
}

/* Counts how many of keys[] are present; each must be a string (or a non-empty string array for *s). */
static int count_sources(const json_t *j, const char *const *keys, size_t n, int *count, const char *what, ccp_err *e)
{
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(j, keys[i]);
		size_t kl = strlen(keys[i]);
		if (!v || json_is_null(v))
			continue;
		if (keys[i][kl - 1] == 's' && keys[i][kl - 2] != 'y') { /* keyPaths, keyDatas, ...Paths, ...Datas */
			const json_t *x;
			size_t k;
			if (!json_is_array(v))
				return ccp_policy_bad(e, what, "\"%s\" must be an array", keys[i]);
			if (json_array_size(v) == 0)
				return ccp_policy_bad(e, what, "\"%s\" contains no entries", keys[i]);
			json_array_foreach(v, k, x)
				if (!json_is_string(x))
					return ccp_policy_bad(e, what, "\"%s\" must be an array of strings", keys[i]);
		} else if (!json_is_string(v) && !json_is_object(v)) {
			return ccp_policy_bad(e, what, "\"%s\" has the wrong type", keys[i]);
		}
		(*count)++;
	}
	return 0;
}

/* One piece of sigstore trust material: a path (kept, read on evaluation) or base64 data (decoded now). */
static int sigstore_src(ccp_sigstore_src *dst, const char *key, const json_t *v, const char *what, ccp_err *e)
{
	int r;

	if (!json_is_string(v))
		return ccp_policy_bad(e, what, "\"%s\" must be a string", key);
	if (!strstr(key, "Data"))
		return ccp_policy_dup_to(&dst->path, json_string_value(v), e);
	dst->data.max = CCP_POLICY_MAX;
	r = ccp_b64_decode_go(&dst->data, json_string_value(v), json_string_length(v));
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	if (r)
		return ccp_policy_bad(e, what, "\"%s\" is not valid base64", key);
	return 0;
}

/* An optional non-empty subject string; empty means "not required", as in containers/image. */
static int subject(char **out, const json_t *obj, const char *key, const char *what, ccp_err *e)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ccp_policy_bad(e, what, "pki.%s must be a string", key);
	return *json_string_value(v) ? ccp_policy_dup_to(out, json_string_value(v), e) : 0;
}

/* Collects the single-or-list key sources named keys[0..4) (path, paths, data, datas) of obj. */
static int sigstore_srcs(ccp_sigstore_src **out, size_t *n, const json_t *obj, const char *const *keys,
			 const char *what, ccp_err *e)
{
	for (size_t k = 0; k < 4; k++) {
		const json_t *v = json_object_get(obj, keys[k]), *x;
		size_t i;
		int r;

		if (!v || json_is_null(v))
			continue;
		if (!(*out = calloc(json_is_array(v) ? json_array_size(v) : 1, sizeof(**out))))
			return ccp_err_oom(e);
		if (!json_is_array(v)) {
			*n = 1;
			return sigstore_src(&(*out)[0], keys[k], v, what, e);
		}
		if (json_array_size(v) > MAX_KEY_PATHS)
			return ccp_policy_bad(e, what, "\"%s\" has too many entries", keys[k]);
		json_array_foreach(v, i, x) {
			*n = i + 1;
			if ((r = sigstore_src(&(*out)[i], keys[k], x, what, e)))
				return r;
		}
		return 0;
	}
	return 0;
}

/* Copies the validated key sources of a sigstoreSigned requirement into pr->sigstore. */
static int fill_sigstore(ccp_pr *pr, const json_t *j, const char *what, ccp_err *e)
{
	static const char *const keys[] = { "keyPath", "keyPaths", "keyData", "keyDatas" };
	static const char *const rekor[] = { "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
					     "rekorPublicKeyDatas" };
	const json_t *f = json_object_get(j, "fulcio"), *p = json_object_get(j, "pki"), *v;
	ccp_sigstore_policy *sp;
	int r;

	if (!(sp = pr->sigstore = calloc(1, sizeof(*sp))))
		return ccp_err_oom(e);
	if ((r = sigstore_srcs(&sp->keys, &sp->n_keys, j, keys, what, e)) ||
	    (r = sigstore_srcs(&sp->rekor_keys, &sp->n_rekor_keys, j, rekor, what, e)))
		return r;
	if (json_is_object(f)) {
		sp->has_fulcio = 1;
		if ((v = json_object_get(f, "caPath")) && !json_is_null(v))
			r = sigstore_src(&sp->fulcio_ca, "caPath", v, what, e);
		else
			r = sigstore_src(&sp->fulcio_ca, "caData", json_object_get(f, "caData"), what, e);
		if (r || (r = ccp_policy_dup_to(&sp->fulcio_issuer, json_string_value(json_object_get(f, "oidcIssuer")), e)) ||
		    (r = ccp_policy_dup_to(&sp->fulcio_email, json_string_value(json_object_get(f, "subjectEmail")), e)))
			return r;
	}
	if (json_is_object(p)) {
		sp->has_pki = 1;
		if ((v = json_object_get(p, "caRootsPath")) && !json_is_null(v))
			r = sigstore_src(&sp->pki_roots, "caRootsPath", v, what, e);
		else
			r = sigstore_src(&sp->pki_roots, "caRootsData", json_object_get(p, "caRootsData"), what, e);
		if (r)
			return r;
		if ((v = json_object_get(p, "caIntermediatesPath")) && !json_is_null(v)) {
			sp->has_pki_intermediates = 1;
			r = sigstore_src(&sp->pki_intermediates, "caIntermediatesPath", v, what, e);
		} else if ((v = json_object_get(p, "caIntermediatesData")) && !json_is_null(v)) {
			sp->has_pki_intermediates = 1;
			r = sigstore_src(&sp->pki_intermediates, "caIntermediatesData", v, what, e);
		}
		if (r)
			return r;
		if ((r = subject(&sp->pki_email, p, "subjectEmail", what, e)) ||
		    (r = subject(&sp->pki_hostname, p, "subjectHostname", what, e)))
			return r;
		if (!sp->pki_email && !sp->pki_hostname)
			return ccp_policy_bad(e, what, "%s", "at least one of pki.subjectEmail and pki.subjectHostname must be specified");
	}
	return 0;
}

static int parse_sigstore(ccp_pr *pr, const json_t *j, const char *what, ccp_err *e)
{
	static const char *const keys[] = { "type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki",
					    "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
					    "rekorPublicKeyDatas", "signedIdentity" };
	static const char *const sources[] = { "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki" };
	static const char *const rekor[] = { "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
					     "rekorPublicKeyDatas" };
	static const char *const fulcio_keys[] = { "caPath", "caData", "oidcIssuer", "subjectEmail" };
	static const char *const pki_keys[] = { "caRootsPath", "caRootsData", "caIntermediatesPath",
						"caIntermediatesData", "subjectEmail", "subjectHostname" };
	const json_t *si = json_object_get(j, "signedIdentity"), *f = json_object_get(j, "fulcio");
	const json_t *p = json_object_get(j, "pki");
	int r, ns, nr, n;

	if ((r = ccp_policy_check_keys(j, keys, 12, 0, what, e)) || (r = count_sources(j, sources, 6, &ns, what, e)) ||
	    (r = count_sources(j, rekor, 4, &nr, what, e)))
		return r;
	if (ns != 1)
		return ccp_policy_bad(e, what, "%s", "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified");
	if (nr > 1)
		return ccp_policy_bad(e, what, "%s", "at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData "
			   "and rekorPublicKeyDatas can be used");
	if (f && !json_is_null(f)) {
		const char *issuer = NULL, *email = NULL;
		if ((r = ccp_policy_check_keys(f, fulcio_keys, 4, 0, what, e)) || (r = count_sources(f, fulcio_keys, 2, &n, what, e)))
			return r;
		if (n != 1)
			return ccp_policy_bad(e, what, "%s", "exactly one of fulcio.caPath and fulcio.caData must be specified");
		if ((r = opt_string(f, "oidcIssuer", &issuer, what, e)) || (r = opt_string(f, "subjectEmail", &email, what, e)))
			return r;
		if (!issuer || !*issuer)
			return ccp_policy_bad(e, what, "%s", "fulcio.oidcIssuer not specified");
		if (!email || !*email)
			return ccp_policy_bad(e, what, "%s", "fulcio.subjectEmail not specified");
		if (nr == 0)
			return ccp_policy_bad(e, what, "%s", "At least one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData "
				   "and rekorPublicKeyDatas must be specified if fulcio is used");
	}
	if (p && !json_is_null(p)) {
		int ni, nsub;
		if ((r = ccp_policy_check_keys(p, pki_keys, 6, 0, what, e)) || (r = count_sources(p, pki_keys, 2, &n, what, e)) ||
		    (r = count_sources(p, pki_keys + 2, 2, &ni, what, e)) || (r = count_sources(p, pki_keys + 4, 2, &nsub, what, e)))
			return r;
		if (n != 1)
			return ccp_policy_bad(e, what, "%s", "exactly one of pki.caRootsPath and pki.caRootsData must be specified");
		if (ni > 1)
			return ccp_policy_bad(e, what, "%s", "at most one of pki.caIntermediatesPath and pki.caIntermediatesData can be used");
		if (nsub == 0)
			return ccp_policy_bad(e, what, "%s", "at least one of pki.subjectEmail and pki.subjectHostname must be specified");
		if (nr)
			return ccp_policy_bad(e, what, "%s", "rekor keys cannot be used with pki");
	}
	if (si) {
		if ((r = parse_prm(&pr->identity, si, what, e)))
			return r;
	} else {
		pr->identity.type = CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT;
	}
	return fill_sigstore(pr, j, what, e);
}

int ccp_policy_parse_pr(ccp_pr *pr, const json_t *j, const char *what, ccp_err *e)
{
	static const char *const k_type[] = { "type" };
	static const char *const k_base[] = { "type", "baseLayerIdentity" };
	const char *type = NULL;
	int r;

	memset(pr, 0, sizeof(*pr));
	if (!json_is_object(j))
		return ccp_policy_bad(e, what, "%s", "a policy requirement must be a JSON object");
	if ((r = opt_string(j, "type", &type, what, e)))
		return r;
	if (!type)
		type = "";
	if (strcmp(type, "insecureAcceptAnything") == 0 || strcmp(type, "reject") == 0) {
		pr->type = type[0] == 'i' ? CCP_PR_INSECURE_ACCEPT_ANYTHING : CCP_PR_REJECT;
		return ccp_policy_check_keys(j, k_type, 1, 1, what, e);
	}
	if (strcmp(type, "signedBy") == 0) {
		pr->type = CCP_PR_SIGNED_BY;
		return parse_signed_by(pr, j, what, e);
	}
	if (strcmp(type, "sigstoreSigned") == 0) {
		pr->type = CCP_PR_SIGSTORE_SIGNED;
		return parse_sigstore(pr, j, what, e);
	}
	if (strcmp(type, "signedBaseLayer") == 0) {
		pr->type = CCP_PR_SIGNED_BASE_LAYER;
		if ((r = ccp_policy_check_keys(j, k_base, 2, 1, what, e)))
			return r;
		return parse_prm(&pr->identity, json_object_get(j, "baseLayerIdentity"), what, e);
	}
	return ccp_policy_bad(e, what, "Unknown policy requirement type \"%.200s\"", type);
}
