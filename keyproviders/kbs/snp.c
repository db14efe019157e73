/*
 * AMD SEV-SNP evidence in the format of Trustee's `snp` verifier.
 *
 * The evidence is what deps/verifier/src/snp/mod.rs (github.com/confidential-containers/trustee)
 * deserializes and what attestation-agent/attester/src/snp/mod.rs
 * (github.com/confidential-containers/guest-components) serializes:
 *
 *   SnpEvidence { attestation_report: sev::firmware::guest::AttestationReport,
 *                 cert_chain: Option<Vec<sev::firmware::host::CertTableEntry>> }
 *
 * with serde_json and the sev crate's serde derive (github.com/virtee/sev at the revision Trustee's
 * Cargo.toml pins, d487809188c3c92e397bc92e2cb2a85eb982c980: src/firmware/guest/types/snp.rs,
 * src/firmware/host/types/snp.rs, src/certs/snp/ecdsa/mod.rs, src/lib.rs Generation::identify_cpu):
 * byte arrays are JSON arrays of numbers, the policy, platform and key info bit fields are numbers,
 * TCB versions are {fmc, bootloader, tee, snp, microcode} (fmc null before Turin), firmware versions
 * {major, minor, build}, fields a report version lacks are null, the signature is {r, s} (72 bytes
 * each, little-endian as in the report), and a certificate is {cert_type: "ARK"|"ASK"|"VCEK"|"VLEK"|
 * "CRL"|{"OTHER": "<uuid>"}, data: [bytes]}.
 *
 * The binary report is the ATTESTATION_REPORT of the SEV-SNP firmware ABI (1184 bytes, versions 2 to
 * 5 as the sev crate decodes them); the certificate table is the GHCB extended guest request's GUID
 * table that configfs-tsm returns in auxblob: entries {guid[16], offset u32, length u32} ending with a
 * zero GUID, offsets from the start of the table, GUIDs in the byte order of their text form.
 */
#include "kbs.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

#define REPORT_DATA_OFF 0x50
#define CHIP_ID_OFF 0x1a0
#define SIG_OFF 0x2a0
#define CERT_ENTRY_LEN 24
#define CERT_ENTRIES_MAX 32

enum generation { GEN_LEGACY, GEN_TURIN }; /* Milan and Genoa share the TCB layout */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* json_object_set_new that remembers a failure (out of memory) in *bad instead of returning it. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v))
		*bad = 1;
}

static json_t *bytes(const uint8_t *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(p[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *tcb(const uint8_t *b, enum generation g)
{
	if (g == GEN_TURIN)
		return json_pack("{s:i, s:i, s:i, s:i, s:i}", "fmc", b[0], "bootloader", b[1], "tee", b[2], "snp", b[3],
				 "microcode", b[7]);
	return json_pack("{s:n, s:i, s:i, s:i, s:i}", "fmc", "bootloader", b[0], "tee", b[1], "snp", b[6], "microcode",
			 b[7]);
}

/* Firmware versions are stored build, minor, major. */
static json_t *fw_version(const uint8_t *b)
{
	return json_pack("{s:i, s:i, s:i}", "major", b[2], "minor", b[1], "build", b[0]);
}

/* serde_json writes u64 fields as numbers; jansson holds signed 64-bit integers, and these fields
 * (policy, platform info, mitigation vectors) have no defined bit 63, so such a value is refused. */
static int u64_field(json_t *o, const char *k, const uint8_t *p, int *bad, ccp_err *e)
{
	uint64_t v = le64(p);

	if (v > INT64_MAX)
		return ccp_err_set(e, CCP_EDECRYPT, "SNP attestation report: %s has bit 63 set (0x%016llx)", k,
				   (unsigned long long)v);
	put(o, k, json_integer((json_int_t)v), bad);
	return 0;
}

/* The processor generation, as the sev crate derives it to decode the TCB versions. */
static int generation(enum generation *g, const uint8_t *r, uint32_t version, ccp_err *e)
{
	uint8_t family = r[0x188], model = r[0x189];

	if (version == 2) {
		/* No CPUID fields yet: the crate tells Turin by its 8-byte chip id, and cannot tell anything
		 * when the chip id is masked. */
		if (all_zero(r + CHIP_ID_OFF, 64))
			return ccp_err_set(e, CCP_EDECRYPT,
					   "SNP attestation report version 2 with a masked chip id: its TCB layout is unknown");
		*g = all_zero(r + CHIP_ID_OFF + 8, 56) ? GEN_TURIN : GEN_LEGACY;
		return 0;
	}
	if (family == 0x19 && (model <= 0x1f || (model >= 0xa0 && model <= 0xaf))) {
		*g = GEN_LEGACY; /* Milan 0x00-0x0f, Genoa 0x10-0x1f and 0xa0-0xaf */
		return 0;
	}
	if (family == 0x1a && model <= 0x11) {
		*g = GEN_TURIN;
		return 0;
	}
	return ccp_err_set(e, CCP_EDECRYPT, "SNP attestation report: unknown processor (family 0x%02x, model 0x%02x)",
			   family, model);
}

static int report_json(json_t **out, const uint8_t *r, ccp_err *e)
{
	uint32_t version = le32(r);
	enum generation g = GEN_LEGACY;
	json_t *o;
	int bad = 0, v3 = version >= 3, v5 = version >= 5, rc;

	*out = NULL;
	if (version < 2 || version > 5)
		return ccp_err_set(e, CCP_EDECRYPT, "SNP attestation report version %u (2 to 5 are known)", version);
	if ((rc = generation(&g, r, version, e)))
		return rc;
	if (!(o = json_object()))
		return ccp_err_oom(e);
	put(o, "version", json_integer(version), &bad);
	put(o, "guest_svn", json_integer(le32(r + 0x04)), &bad);
	if ((rc = u64_field(o, "policy", r + 0x08, &bad, e)))
		goto fail;
	put(o, "family_id", bytes(r + 0x10, 16), &bad);
	put(o, "image_id", bytes(r + 0x20, 16), &bad);
	put(o, "vmpl", json_integer(le32(r + 0x30)), &bad);
	put(o, "sig_algo", json_integer(le32(r + 0x34)), &bad);
	put(o, "current_tcb", tcb(r + 0x38, g), &bad);
	if ((rc = u64_field(o, "plat_info", r + 0x40, &bad, e)))
		goto fail;
	put(o, "key_info", json_integer(le32(r + 0x48)), &bad);
	put(o, "report_data", bytes(r + REPORT_DATA_OFF, 64), &bad);
	put(o, "measurement", bytes(r + 0x90, 48), &bad);
	put(o, "host_data", bytes(r + 0xc0, 32), &bad);
	put(o, "id_key_digest", bytes(r + 0xe0, 48), &bad);
	put(o, "author_key_digest", bytes(r + 0x110, 48), &bad);
	put(o, "report_id", bytes(r + 0x140, 32), &bad);
	put(o, "report_id_ma", bytes(r + 0x160, 32), &bad);
	put(o, "reported_tcb", tcb(r + 0x180, g), &bad);
	put(o, "cpuid_fam_id", v3 ? json_integer(r[0x188]) : json_null(), &bad);
	put(o, "cpuid_mod_id", v3 ? json_integer(r[0x189]) : json_null(), &bad);
	put(o, "cpuid_step", v3 ? json_integer(r[0x18a]) : json_null(), &bad);
	put(o, "chip_id", bytes(r + CHIP_ID_OFF, 64), &bad);
	put(o, "committed_tcb", tcb(r + 0x1e0, g), &bad);
	put(o, "current", fw_version(r + 0x1e8), &bad);
	put(o, "committed", fw_version(r + 0x1ec), &bad);
	put(o, "launch_tcb", tcb(r + 0x1f0, g), &bad);
	if (v5) {
		if ((rc = u64_field(o, "launch_mit_vector", r + 0x1f8, &bad, e)) ||
		    (rc = u64_field(o, "current_mit_vector", r + 0x200, &bad, e)))
			goto fail;
	} else {
		put(o, "launch_mit_vector", json_null(), &bad);
		put(o, "current_mit_vector", json_null(), &bad);
	}
	put(o, "signature", json_pack("{s:o, s:o}", "r", bytes(r + SIG_OFF, 72), "s", bytes(r + SIG_OFF + 72, 72)),
	    &bad);
	if (bad) {
		rc = ccp_err_oom(e);
		goto fail;
	}
	*out = o;
	return 0;
fail:
	json_decref(o);
	return rc;
}

static const struct {
	const char *name;
	uint8_t guid[16];
} cert_types[] = {
	{ "ARK", { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
	{ "ASK", { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
	{ "VCEK", { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
	{ "VLEK", { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
	{ "CRL", { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea } },
};

static json_t *cert_type(const uint8_t *guid)
{
	char u[37];

	for (size_t i = 0; i < sizeof(cert_types) / sizeof(cert_types[0]); i++)
		if (memcmp(guid, cert_types[i].guid, 16) == 0)
			return json_string(cert_types[i].name);
	snprintf(u, sizeof(u), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", guid[0], guid[1],
		 guid[2], guid[3], guid[4], guid[5], guid[6], guid[7], guid[8], guid[9], guid[10], guid[11], guid[12],
		 guid[13], guid[14], guid[15]);
	return json_pack("{s:s}", "OTHER", u);
}

/* The certificate table: null when there is none, else the entries in table order. */
static int certs_json(json_t **out, const uint8_t *t, size_t len, ccp_err *e)
{
	size_t n = 0, table_end;
	json_t *a;

	*out = NULL;
	for (; len; n++) {
		if ((n + 1) * CERT_ENTRY_LEN > len)
			return ccp_err_set(e, CCP_EDECRYPT, "SNP certificate table: no terminating entry in %zu bytes", len);
		if (all_zero(t + n * CERT_ENTRY_LEN, 16))
			break;
		if (n == CERT_ENTRIES_MAX)
			return ccp_err_set(e, CCP_EDECRYPT, "SNP certificate table: more than %d entries", CERT_ENTRIES_MAX);
	}
	if (n == 0) {
		/* no certificates from the host: the verifier fetches the VCEK itself */
		*out = json_null();
		return *out ? 0 : ccp_err_oom(e);
	}
	table_end = (n + 1) * CERT_ENTRY_LEN;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ei = t + i * CERT_ENTRY_LEN;
		uint64_t off = le32(ei + 16), l = le32(ei + 20);
		if (off < table_end || off + l > len)
			return ccp_err_set(e, CCP_EDECRYPT,
					   "SNP certificate table: entry %zu (offset %llu, length %llu) is outside the %zu-byte "
					   "certificate area after the table", i, (unsigned long long)off, (unsigned long long)l, len);
		for (size_t j = 0; j < i; j++) {
			const uint8_t *ej = t + j * CERT_ENTRY_LEN;
			uint64_t o2 = le32(ej + 16), l2 = le32(ej + 20);
			if (l && l2 && off < o2 + l2 && o2 < off + l)
				return ccp_err_set(e, CCP_EDECRYPT, "SNP certificate table: entries %zu and %zu overlap", j, i);
		}
	}
	if (!(a = json_array()))
		return ccp_err_oom(e);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ei = t + i * CERT_ENTRY_LEN;
		json_t *c = json_pack("{s:o, s:o}", "cert_type", cert_type(ei), "data", bytes(t + le32(ei + 16), le32(ei + 20)));
		if (!c || json_array_append_new(a, c)) {
			json_decref(a);
			return ccp_err_oom(e);
		}
	}
	*out = a;
	return 0;
}

int ccp_snp_evidence(json_t **out, const void *report, size_t report_len, const void *certs, size_t certs_len,
		     const unsigned char rd[CCP_SNP_REPORT_DATA_LEN], ccp_err *e)
{
	json_t *rep = NULL, *chain = NULL;
	int r;

	*out = NULL;
	if (report_len != CCP_SNP_REPORT_LEN)
		return ccp_err_set(e, CCP_EDECRYPT, "SNP attestation report of %zu bytes, not %d", report_len,
				   CCP_SNP_REPORT_LEN);
	if (certs_len > CCP_SNP_CERTS_MAX)
		return ccp_err_set(e, CCP_EDECRYPT, "SNP certificate table of %zu bytes, more than %u", certs_len,
				   CCP_SNP_CERTS_MAX);
	/* The firmware copies the report data verbatim; anything else is not the report we asked for. */
	if (memcmp((const uint8_t *)report + REPORT_DATA_OFF, rd, CCP_SNP_REPORT_DATA_LEN) != 0)
		return ccp_err_set(e, CCP_EDECRYPT, "SNP attestation report does not carry the requested report data");
	if ((r = report_json(&rep, report, e)) || (r = certs_json(&chain, certs, certs_len, e))) {
		json_decref(rep);
		return r;
	}
	if (!(*out = json_pack("{s:o, s:o}", "attestation_report", rep, "cert_chain", chain)))
		return ccp_err_oom(e);
	return 0;
}

int ccp_snp_evidence_at(json_t **out, const char *entry, const unsigned char rd[CCP_SNP_REPORT_DATA_LEN], ccp_err *e)
{
	ccp_buf report = CCP_BUF_INIT(0), certs = CCP_BUF_INIT(0);
	int r;

	*out = NULL;
	/* VMPL 0, as guest-components' SNP attester asks for */
	if ((r = ccp_tsm_report_aux_at(&report, &certs, entry, "sev_guest", 0, rd, CCP_SNP_REPORT_DATA_LEN, e)) == 0)
		r = ccp_snp_evidence(out, report.data, report.len, certs.data, certs.len, rd, e);
	ccp_buf_free(&report);
	ccp_buf_free(&certs);
	return r;
}
