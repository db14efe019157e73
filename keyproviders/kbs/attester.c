/*
 * Evidence sources in Trustee's formats: the sample attester (tests only), Intel TDX and AMD SEV-SNP
 * (snp.c) through the kernel's configfs-tsm report interface (Linux 6.7+): mkdir an entry under
 * /sys/kernel/config/tsm/report, write the report data to inblob, read the quote or report from
 * outblob (and SNP's certificate table from auxblob). The attestation agent's evidence is aa.c.
 */
#include "kbs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

#define QUOTE_MAX (1u << 20)
#define REPORT_DATA_LEN 64

int ccp_attester_parse(ccp_attester_kind *out, const char *name, ccp_err *e)
{
	static const struct {
		const char *name;
		ccp_attester_kind k;
	} names[] = { { "auto", CCP_ATTESTER_AUTO }, { "sample", CCP_ATTESTER_SAMPLE }, { "tdx", CCP_ATTESTER_TDX },
		      { "snp", CCP_ATTESTER_SNP }, { "aa", CCP_ATTESTER_AA } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!name || strcmp(name, names[i].name) == 0) {
			*out = name ? names[i].k : CCP_ATTESTER_AUTO;
			return 0;
		}
	return ccp_err_set(e, CCP_EINVALID, "unknown attester \"%.64s\" (auto, sample, tdx, snp or aa)", name);
}

const char *ccp_attester_tee(ccp_attester_kind k)
{
	return k == CCP_ATTESTER_TDX ? "tdx" : k == CCP_ATTESTER_SNP ? "snp" : "sample";
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

ccp_attester_kind ccp_attester_detect(const char *tsm_root, const char *aa_socket)
{
	const char *root = tsm_root ? tsm_root : CCP_KBS_TSM_ROOT;

	/* An attestation agent first, as CDH's cc_kbc: it knows its TEE and adds what ccpull's own
	 * evidence lacks (init-data, additional device evidence), which KBS policies may check. */
	if (is_socket(aa_socket ? aa_socket : CCP_AA_SOCKET))
		return CCP_ATTESTER_AA;
	/* The guest devices say which TEE this is; configfs-tsm alone does not (its provider is only
	 * visible inside a report entry, and making one here would be a side effect of detection). */
	if (exists("/dev/tdx_guest") || (exists(root) && exists("/sys/devices/virtual/misc/tdx_guest")))
		return CCP_ATTESTER_TDX;
	if (exists("/dev/sev-guest") || exists("/sys/devices/platform/sev-guest"))
		return CCP_ATTESTER_SNP;
	/* neither: the sample evidence, as Trustee's client falls back */
	return CCP_ATTESTER_SAMPLE;
}

int ccp_attester_check(ccp_attester_kind k, const char *tsm_root, ccp_err *e)
{
	const char *root = tsm_root ? tsm_root : CCP_KBS_TSM_ROOT;
	struct stat st;
	int err;

	if (k != CCP_ATTESTER_TDX && k != CCP_ATTESTER_SNP)
		return 0;
	err = stat(root, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (err)
		return ccp_err_errno(e, CCP_EDECRYPT, err,
				     "the %s attester needs the configfs-tsm report interface %s (Linux 6.7+, in a %s guest)",
				     ccp_attester_tee(k), root, k == CCP_ATTESTER_TDX ? "TDX" : "SEV-SNP");
	return 0;
}

/* ---- configfs-tsm ---- */

static int read_at(ccp_buf *out, const char *dir, const char *name, size_t max, ccp_err *e)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm path too long");
	out->max = max;
	if (ccp_read_file(out, path, max, e))
		return ccp_err_wrap(e, "configfs-tsm report");
	return 0;
}

/* read_at, but a missing file reads as empty. */
static int read_optional(ccp_buf *out, const char *dir, const char *name, size_t max, ccp_err *e)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm path too long");
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	return read_at(out, dir, name, max, e);
}

static int write_at(const char *dir, const char *name, const void *data, size_t len, ccp_err *e)
{
	char path[4096];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm path too long");
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return ccp_err_errno(e, CCP_EDECRYPT, errno, "configfs-tsm report: cannot open %s", path);
	/* configfs attributes take one write. */
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len) {
		int err = n < 0 ? errno : EIO;
		close(fd);
		return ccp_err_errno(e, CCP_EDECRYPT, err, "configfs-tsm report: cannot write %s", path);
	}
	if (close(fd) < 0)
		return ccp_err_errno(e, CCP_EDECRYPT, errno, "configfs-tsm report: cannot write %s", path);
	return 0;
}

int ccp_tsm_report_aux_at(ccp_buf *outblob, ccp_buf *auxblob, const char *entry, const char *provider, int privlevel,
			  const unsigned char *inblob, size_t len, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(0);
	size_t pl = strlen(provider);
	unsigned long gen;
	char *end, lvl[16];
	int r;

	if ((r = read_at(&b, entry, "provider", 64, e)))
		goto out;
	if (b.len != pl + 1 || memcmp(b.data, provider, pl) != 0 || b.data[pl] != '\n') {
		r = ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm report: provider is \"%.32s\", not %s",
				b.data ? b.data : "", provider);
		goto out;
	}
	if (privlevel >= 0) {
		snprintf(lvl, sizeof(lvl), "%d", privlevel);
		if ((r = write_at(entry, "privlevel", lvl, strlen(lvl), e)))
			goto out;
	}
	if ((r = write_at(entry, "inblob", inblob, len, e)) || (r = read_at(outblob, entry, "outblob", QUOTE_MAX, e)))
		goto out;
	/* auxblob is optional (a host may supply no certificates); read before generation so the
	 * race check covers it too */
	if (auxblob && (r = read_optional(auxblob, entry, "auxblob", CCP_SNP_CERTS_MAX, e)))
		goto out;
	ccp_buf_clear(&b);
	if ((r = read_at(&b, entry, "generation", 32, e)))
		goto out;
	errno = 0;
	gen = strtoul(b.data ? b.data : "", &end, 10);
	if (errno || !b.data || end == b.data || (*end && strcmp(end, "\n") != 0)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm report: unreadable generation");
		goto out;
	}
	/* Someone else wrote inblob between our write and read: the quote may not hold our data. */
	if (gen > 1)
		r = ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm report: another writer raced us (generation %lu)", gen);
	if (r == 0 && outblob->len == 0)
		r = ccp_err_set(e, CCP_EDECRYPT, "configfs-tsm report: empty outblob");
out:
	ccp_buf_free(&b);
	return r;
}

int ccp_tsm_report_at(ccp_buf *outblob, const char *entry, const char *provider, int privlevel,
		      const unsigned char *inblob, size_t len, ccp_err *e)
{
	return ccp_tsm_report_aux_at(outblob, NULL, entry, provider, privlevel, inblob, len, e);
}

/* A new report entry under root (its name in entry), removed by the caller with rmdir. */
static int tsm_entry(char entry[4096], const char *root, ccp_err *e)
{
	char id[17];
	int r;

	if ((r = ccp_random_id(id, 8, e)))
		return r;
	if ((size_t)snprintf(entry, 4096, "%s/ccpull-%s", root, id) >= 4096)
		return ccp_err_set(e, CCP_EINVALID, "configfs-tsm root path too long");
	if (mkdir(entry, 0700) < 0)
		return ccp_err_errno(e, CCP_EDECRYPT, errno, "configfs-tsm: cannot create a report entry under %s", root);
	return 0;
}

/* ---- the TDX CC event log ---- */

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int ccp_ccel_trim(ccp_buf *log, ccp_err *e)
{
	const unsigned char *p = (const unsigned char *)log->data;
	size_t len = log->len, i = 4;
	uint32_t type;

	/* the first event, TCG_PCR_EVENT (SHA-1 format): pcr, type, 20-byte digest, EV_NO_ACTION's data */
	if (!p || len < i + 4 + 20)
		return ccp_err_set(e, CCP_EDECRYPT, "CCEL: not enough length");
	type = le32(p + i);
	i += 4 + 20;
	if (type == 0x3) {
		uint32_t n;
		if (len - i < 4)
			return ccp_err_set(e, CCP_EDECRYPT, "CCEL: not enough length");
		n = le32(p + i);
		i += 4;
		if (n > len - i)
			return ccp_err_set(e, CCP_EDECRYPT, "CCEL: event data past the end");
		i += n;
	}
	/* TCG_PCR_EVENT2s (crypto agile) until an all-ones or all-zero word, where the log ends */
	for (;;) {
		uint32_t digests, n;
		if (len - i < 8)
			return ccp_err_set(e, CCP_EDECRYPT, "CCEL: no end flag");
		if (memcmp(p + i, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0 ||
		    memcmp(p + i, "\0\0\0\0\0\0\0\0", 8) == 0) {
			log->len = i;
			return 0;
		}
		i += 8; /* target measurement register, event type */
		if (len - i < 4)
			return ccp_err_set(e, CCP_EDECRYPT, "CCEL: no digest count");
		digests = le32(p + i);
		i += 4;
		for (uint32_t d = 0; d < digests; d++) {
			size_t dl;
			if (len - i < 2)
				return ccp_err_set(e, CCP_EDECRYPT, "CCEL: no digest algorithm");
			switch (p[i] | p[i + 1] << 8) {
			case 0xb: /* SHA-256 */
			case 0x12: /* SM3-256 */
				dl = 32;
				break;
			case 0xc: /* SHA-384 */
				dl = 48;
				break;
			case 0xd: /* SHA-512 */
				dl = 64;
				break;
			default:
				return ccp_err_set(e, CCP_EDECRYPT, "CCEL: unsupported digest algorithm 0x%x",
						   (unsigned)(p[i] | p[i + 1] << 8));
			}
			i += 2;
			if (dl > len - i)
				return ccp_err_set(e, CCP_EDECRYPT, "CCEL: digest past the end");
			i += dl;
		}
		if (len - i < 4)
			return ccp_err_set(e, CCP_EDECRYPT, "CCEL: no event data size");
		n = le32(p + i);
		i += 4;
		if (n > len - i)
			return ccp_err_set(e, CCP_EDECRYPT, "CCEL: event data past the end");
		i += n;
	}
}

int ccp_tdx_eventlog(json_t **out, const char *ccel_path, ccp_err *e)
{
	static const unsigned char end[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const char *path = ccel_path ? ccel_path : CCP_KBS_CCEL_PATH;
	ccp_buf log = CCP_BUF_INIT(CCP_KBS_CCEL_MAX);
	char *b64 = NULL;
	int r;

	*out = NULL;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		/* no CCEL: Trustee's verifier takes the quote alone */
		*out = json_null();
		return 0;
	}
	if ((r = ccp_read_file(&log, path, CCP_KBS_CCEL_MAX, e)))
		return ccp_err_wrap(e, "TDX CC event log");
	if ((r = ccp_ccel_trim(&log, e))) {
		ccp_err_wrap(e, "TDX CC event log %s", path);
	} else if (ccp_buf_append(&log, end, sizeof(end)) || ccp_b64_encode(&b64, log.data, log.len) ||
		   !(*out = json_string(b64))) {
		r = ccp_err_oom(e);
	}
	free(b64);
	ccp_buf_free(&log);
	return r;
}

/* ---- evidence ---- */

static int b64_member(json_t *o, const char *key, const void *data, size_t len)
{
	char *s = NULL;
	int r = ccp_b64_encode(&s, data, len) || json_object_set_new(o, key, json_string(s)) ? -1 : 0;

	free(s);
	return r;
}

int ccp_attester_evidence(json_t **out, ccp_attester_kind k, const char *tsm_root, const unsigned char *rd,
			  size_t rd_len, ccp_err *e)
{
	unsigned char padded[REPORT_DATA_LEN] = { 0 };
	ccp_buf quote = CCP_BUF_INIT(QUOTE_MAX);
	char entry[4096];
	json_t *o, *el = NULL;
	int r = 0;

	*out = NULL;
	if (rd_len > REPORT_DATA_LEN)
		return ccp_err_set(e, CCP_EDECRYPT, "report data of %zu bytes, more than %d", rd_len, REPORT_DATA_LEN);
	memcpy(padded, rd, rd_len);
	if (!(o = json_object()))
		return ccp_err_oom(e);
	switch (k) {
	case CCP_ATTESTER_SAMPLE:
		/* Trustee's sample evidence: the report data as is, not padded. */
		if (json_object_set_new(o, "svn", json_string("1")) || b64_member(o, "report_data", rd, rd_len))
			r = ccp_err_oom(e);
		break;
	case CCP_ATTESTER_TDX:
		if ((r = tsm_entry(entry, tsm_root ? tsm_root : CCP_KBS_TSM_ROOT, e)) == 0) {
			r = ccp_tsm_report_at(&quote, entry, "tdx_guest", -1, padded, REPORT_DATA_LEN, e);
			rmdir(entry);
		}
		if (r) {
			ccp_err_wrap(e, "TDX evidence");
			break;
		}
		/* Trustee's TdxEvidence {cc_eventlog, quote}, the event log as guest-components' attester
		 * reads it (attestation-agent/attester/src/utils.rs read_eventlog: the CCEL up to its end,
		 * then the end flag), null without one */
		if ((r = ccp_tdx_eventlog(&el, NULL, e)))
			break;
		if (json_object_set_new(o, "cc_eventlog", el) || b64_member(o, "quote", quote.data, quote.len))
			r = ccp_err_oom(e);
		break;
	case CCP_ATTESTER_SNP:
		json_decref(o);
		o = NULL;
		if ((r = tsm_entry(entry, tsm_root ? tsm_root : CCP_KBS_TSM_ROOT, e)) == 0) {
			r = ccp_snp_evidence_at(&o, entry, padded, e);
			rmdir(entry);
		}
		if (r)
			ccp_err_wrap(e, "SNP evidence");
		break;
	default:
		r = ccp_err_set(e, CCP_EINTERNAL, "attester %d has no native evidence (the aa attester's is ccp_aa_evidence)",
				(int)k);
	}
	ccp_buf_free(&quote);
	if (r) {
		json_decref(o);
		return r;
	}
	*out = o;
	return 0;
}
