/* The SNP attester: synthetic attestation reports (versions 2 to 5, Milan/Genoa and Turin TCB layouts)
 * and host certificate tables, through a fake configfs-tsm entry directory, into Trustee's SNP
 * evidence JSON; truncated, unknown and hostile inputs are refused with CCP_EDECRYPT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyproviders/kbs/kbs.h"
#include "util/fs.h"
#include "test.h"

#define REPORT_LEN CCP_SNP_REPORT_LEN

static const uint8_t VCEK_GUID[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t ASK_GUID[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
				      0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t ODD_GUID[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A report of version v for family/model, carrying rd, with recognisable values in every field. */
static void make_report(uint8_t *r, uint32_t v, uint8_t family, uint8_t model, const uint8_t *rd)
{
	memset(r, 0, REPORT_LEN);
	put32(r, v);
	put32(r + 0x04, 7);                   /* guest_svn */
	put64(r + 0x08, 0x30000);             /* policy */
	memset(r + 0x10, 0x11, 16);           /* family_id */
	memset(r + 0x20, 0x22, 16);           /* image_id */
	put32(r + 0x30, 0);                   /* vmpl */
	put32(r + 0x34, 1);                   /* sig_algo */
	for (int i = 0; i < 8; i++)           /* current_tcb */
		r[0x38 + i] = (uint8_t)(0x40 + i);
	put64(r + 0x40, 37);                  /* plat_info */
	put32(r + 0x48, 1);                   /* key_info */
	memcpy(r + 0x50, rd, 64);
	memset(r + 0x90, 0x33, 48);           /* measurement */
	memset(r + 0xc0, 0x44, 32);           /* host_data */
	for (int i = 0; i < 8; i++)           /* reported_tcb */
		r[0x180 + i] = (uint8_t)(0x50 + i);
	if (v >= 3) {
		r[0x188] = family;
		r[0x189] = model;
		r[0x18a] = 2;
	}
	memset(r + 0x1a0, 0x55, 64);          /* chip_id */
	r[0x1e8] = 40;                        /* current: build, minor, major */
	r[0x1e9] = 55;
	r[0x1ea] = 1;
	r[0x1ec] = 41;                        /* committed */
	r[0x1ed] = 56;
	r[0x1ee] = 2;
	if (v >= 5) {
		put64(r + 0x1f8, 5);          /* launch_mit_vector */
		put64(r + 0x200, 6);          /* current_mit_vector */
	}
	for (int i = 0; i < 144; i++)         /* signature r and s */
		r[0x2a0 + i] = (uint8_t)i;
}

/* A table with n entries (guids[i], data of len[i] bytes of value i+1) and its terminator. */
static size_t make_certs(uint8_t *t, size_t n, const uint8_t *const *guids, const uint32_t *len)
{
	size_t off = (n + 1) * 24;

	memset(t, 0, off);
	for (size_t i = 0; i < n; i++) {
		memcpy(t + 24 * i, guids[i], 16);
		put32(t + 24 * i + 16, (uint32_t)off);
		put32(t + 24 * i + 20, len[i]);
		memset(t + off, (int)(i + 1), len[i]);
		off += len[i];
	}
	return off;
}

static int json_bytes_eq(const json_t *a, const uint8_t *p, size_t n)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (json_integer_value(json_array_get(a, i)) != p[i])
			return 0;
	return 1;
}

static json_int_t member_int(const json_t *o, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(o, path1);
	return json_integer_value(path2 ? json_object_get(v, path2) : v);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w"))) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

static void remove_entry(const char *dir)
{
	char path[4096];

	for (const char *const *n = (const char *const[]){ "provider", "inblob", "outblob", "auxblob", "generation",
							   "privlevel", NULL };
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
}

static void test_configfs_entry(void)
{
	char dir[] = "/tmp/ccpull-snp-XXXXXX", path[4096];
	uint8_t rd[64], report[REPORT_LEN], certs[4096];
	const uint8_t *guids[] = { VCEK_GUID, ASK_GUID };
	const uint32_t lens[] = { 100, 50 };
	size_t certs_len = make_certs(certs, 2, guids, lens);
	ccp_buf in = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	json_t *ev = NULL, *rep, *chain;

	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0xa0 + i);
	make_report(report, 3, 0x19, 0x01, rd); /* Milan */
	CHECK(mkdtemp(dir) != NULL);
	write_file(dir, "provider", "sev_guest\n", 10);
	write_file(dir, "inblob", "", 0);
	write_file(dir, "privlevel", "", 0);
	write_file(dir, "outblob", report, sizeof(report));
	write_file(dir, "auxblob", certs, certs_len);
	write_file(dir, "generation", "1\n", 2);
	CHECK(ccp_snp_evidence_at(&ev, dir, rd, &e) == 0);
	if (!ev) {
		fprintf(stderr, "%s\n", e.msg);
		remove_entry(dir);
		return;
	}
	/* our report data went to inblob, at VMPL 0 */
	snprintf(path, sizeof(path), "%s/inblob", dir);
	CHECK(ccp_read_file(&in, path, 1024, &e) == 0 && in.len == 64 && memcmp(in.data, rd, 64) == 0);
	ccp_buf_free(&in);
	snprintf(path, sizeof(path), "%s/privlevel", dir);
	CHECK(ccp_read_file(&in, path, 16, &e) == 0 && in.len == 1 && in.data[0] == '0');
	ccp_buf_free(&in);

	rep = json_object_get(ev, "attestation_report");
	chain = json_object_get(ev, "cert_chain");
	CHECK(json_object_size(ev) == 2);
	CHECK(member_int(rep, "version", NULL) == 3);
	CHECK(member_int(rep, "guest_svn", NULL) == 7);
	CHECK(member_int(rep, "policy", NULL) == 0x30000);
	CHECK(json_bytes_eq(json_object_get(rep, "family_id"), report + 0x10, 16));
	CHECK(json_bytes_eq(json_object_get(rep, "image_id"), report + 0x20, 16));
	CHECK(member_int(rep, "vmpl", NULL) == 0);
	CHECK(member_int(rep, "sig_algo", NULL) == 1);
	/* the Milan/Genoa TCB layout: bootloader, tee, 4 reserved, snp, microcode; no fmc */
	CHECK(json_is_null(json_object_get(json_object_get(rep, "current_tcb"), "fmc")));
	CHECK(member_int(rep, "current_tcb", "bootloader") == 0x40);
	CHECK(member_int(rep, "current_tcb", "tee") == 0x41);
	CHECK(member_int(rep, "current_tcb", "snp") == 0x46);
	CHECK(member_int(rep, "current_tcb", "microcode") == 0x47);
	CHECK(member_int(rep, "reported_tcb", "snp") == 0x56);
	CHECK(member_int(rep, "plat_info", NULL) == 37);
	CHECK(member_int(rep, "key_info", NULL) == 1);
	CHECK(json_bytes_eq(json_object_get(rep, "report_data"), rd, 64));
	CHECK(json_bytes_eq(json_object_get(rep, "measurement"), report + 0x90, 48));
	CHECK(json_bytes_eq(json_object_get(rep, "host_data"), report + 0xc0, 32));
	CHECK(json_bytes_eq(json_object_get(rep, "id_key_digest"), report + 0xe0, 48));
	CHECK(json_bytes_eq(json_object_get(rep, "author_key_digest"), report + 0x110, 48));
	CHECK(json_bytes_eq(json_object_get(rep, "report_id"), report + 0x140, 32));
	CHECK(json_bytes_eq(json_object_get(rep, "report_id_ma"), report + 0x160, 32));
	CHECK(member_int(rep, "cpuid_fam_id", NULL) == 0x19);
	CHECK(member_int(rep, "cpuid_mod_id", NULL) == 0x01);
	CHECK(member_int(rep, "cpuid_step", NULL) == 2);
	CHECK(json_bytes_eq(json_object_get(rep, "chip_id"), report + 0x1a0, 64));
	CHECK(json_is_object(json_object_get(rep, "committed_tcb")));
	CHECK(member_int(rep, "current", "major") == 1 && member_int(rep, "current", "minor") == 55 &&
	      member_int(rep, "current", "build") == 40);
	CHECK(member_int(rep, "committed", "major") == 2 && member_int(rep, "committed", "build") == 41);
	CHECK(json_is_object(json_object_get(rep, "launch_tcb")));
	CHECK(json_is_null(json_object_get(rep, "launch_mit_vector")));
	CHECK(json_is_null(json_object_get(rep, "current_mit_vector")));
	CHECK(json_bytes_eq(json_object_get(json_object_get(rep, "signature"), "r"), report + 0x2a0, 72));
	CHECK(json_bytes_eq(json_object_get(json_object_get(rep, "signature"), "s"), report + 0x2a0 + 72, 72));
	CHECK(json_object_size(rep) == 29); /* every field of the sev crate's AttestationReport */

	CHECK(json_array_size(chain) == 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(chain, 0), "cert_type")), "VCEK");
	CHECK(json_bytes_eq(json_object_get(json_array_get(chain, 0), "data"), certs + 72, 100));
	CHECK_STR(json_string_value(json_object_get(json_array_get(chain, 1), "cert_type")), "ASK");
	CHECK(json_bytes_eq(json_object_get(json_array_get(chain, 1), "data"), certs + 172, 50));
	json_decref(ev);

	/* no certificates from the host: cert_chain null (the verifier then asks AMD's KDS) */
	snprintf(path, sizeof(path), "%s/auxblob", dir);
	unlink(path);
	CHECK(ccp_snp_evidence_at(&ev, dir, rd, &e) == 0);
	CHECK(json_is_null(json_object_get(ev, "cert_chain")));
	json_decref(ev);
	write_file(dir, "auxblob", "", 0);
	CHECK(ccp_snp_evidence_at(&ev, dir, rd, &e) == 0);
	CHECK(json_is_null(json_object_get(ev, "cert_chain")));
	json_decref(ev);

	/* a truncated report; a report that does not hold our report data; another provider */
	write_file(dir, "outblob", report, sizeof(report) - 1);
	CHECK(ccp_snp_evidence_at(&ev, dir, rd, &e) == CCP_EDECRYPT && ev == NULL);
	CHECK(strstr(e.msg, "1183 bytes") != NULL);
	rd[0] ^= 1;
	write_file(dir, "outblob", report, sizeof(report));
	CHECK(ccp_snp_evidence_at(&ev, dir, rd, &e) == CCP_EDECRYPT && ev == NULL);
	CHECK(strstr(e.msg, "report data") != NULL);
	rd[0] ^= 1;
	write_file(dir, "provider", "tdx_guest\n", 10);
	CHECK(ccp_snp_evidence_at(&ev, dir, rd, &e) == CCP_EDECRYPT && ev == NULL);
	remove_entry(dir);

	/* through the attester: a configfs-tsm root that is not one */
	CHECK(ccp_attester_evidence(&ev, CCP_ATTESTER_SNP, "/nonexistent-tsm", rd, 48, &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "SNP evidence") != NULL && strstr(e.msg, "configfs-tsm") != NULL);
}

static void test_versions(void)
{
	uint8_t rd[64], r[REPORT_LEN];
	ccp_err e = CCP_ERR_INIT;
	json_t *ev = NULL, *rep;

	memset(rd, 0x5a, sizeof(rd));
	/* version 5 on Turin: fmc, bootloader, tee, snp, 3 reserved, microcode; mitigation vectors */
	make_report(r, 5, 0x1a, 0x02, rd);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == 0);
	rep = json_object_get(ev, "attestation_report");
	CHECK(member_int(rep, "version", NULL) == 5);
	CHECK(member_int(rep, "current_tcb", "fmc") == 0x40);
	CHECK(member_int(rep, "current_tcb", "bootloader") == 0x41);
	CHECK(member_int(rep, "current_tcb", "tee") == 0x42);
	CHECK(member_int(rep, "current_tcb", "snp") == 0x43);
	CHECK(member_int(rep, "current_tcb", "microcode") == 0x47);
	CHECK(member_int(rep, "launch_mit_vector", NULL) == 5);
	CHECK(member_int(rep, "current_mit_vector", NULL) == 6);
	json_decref(ev);
	/* version 4 on Genoa: laid out as 3 */
	make_report(r, 4, 0x19, 0xa0, rd);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == 0);
	CHECK(json_is_null(json_object_get(json_object_get(ev, "attestation_report"), "launch_mit_vector")));
	json_decref(ev);
	/* version 2: no CPUID fields; a Turin chip id has only 8 bytes */
	make_report(r, 2, 0, 0, rd);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == 0);
	rep = json_object_get(ev, "attestation_report");
	CHECK(json_is_null(json_object_get(rep, "cpuid_fam_id")) && json_is_null(json_object_get(rep, "cpuid_step")));
	CHECK(json_is_null(json_object_get(json_object_get(rep, "current_tcb"), "fmc")));
	json_decref(ev);
	memset(r + 0x1a0 + 8, 0, 56);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == 0);
	CHECK(member_int(json_object_get(ev, "attestation_report"), "current_tcb", "fmc") == 0x40);
	json_decref(ev);
	/* version 2 with a masked chip id: the TCB layout cannot be known */
	memset(r + 0x1a0, 0, 64);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == CCP_EDECRYPT && ev == NULL);

	/* unknown versions and processors; bit 63 of a u64 field */
	for (uint32_t v = 0; v < 8; v++) {
		if (v >= 2 && v <= 5)
			continue;
		make_report(r, v, 0x19, 0x01, rd);
		CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == CCP_EDECRYPT && ev == NULL);
		CHECK(strstr(e.msg, "version") != NULL);
	}
	make_report(r, 3, 0x17, 0x01, rd);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == CCP_EDECRYPT && ev == NULL);
	make_report(r, 3, 0x19, 0x30, rd);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == CCP_EDECRYPT && ev == NULL);
	make_report(r, 5, 0x19, 0x01, rd);
	put64(r + 0x08, 1ull << 63);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), NULL, 0, rd, &e) == CCP_EDECRYPT && ev == NULL);
	CHECK(strstr(e.msg, "policy") != NULL);
	/* longer than a report */
	{
		uint8_t big[REPORT_LEN + 1] = { 0 };
		make_report(big, 3, 0x19, 0x01, rd);
		CHECK(ccp_snp_evidence(&ev, big, sizeof(big), NULL, 0, rd, &e) == CCP_EDECRYPT && ev == NULL);
	}
}

static void test_cert_tables(void)
{
	uint8_t rd[64], r[REPORT_LEN], t[8192];
	const uint8_t *guids[40];
	uint32_t lens[40];
	size_t n;
	ccp_err e = CCP_ERR_INIT;
	json_t *ev = NULL;

	memset(rd, 0x77, sizeof(rd));
	make_report(r, 3, 0x19, 0x11, rd);
	for (int i = 0; i < 40; i++) {
		guids[i] = i % 2 ? ASK_GUID : VCEK_GUID;
		lens[i] = 10;
	}
	/* an unknown GUID is kept as {"OTHER": "<uuid>"}, as the sev crate serializes it */
	guids[0] = ODD_GUID;
	n = make_certs(t, 2, guids, lens);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n, rd, &e) == 0);
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(json_array_get(json_object_get(ev, "cert_chain"), 0), "cert_type"), "OTHER")),
		  "01234567-89ab-cdef-0123-456789abcdef");
	json_decref(ev);
	ev = NULL;
	guids[0] = VCEK_GUID;

	/* no terminating entry: the table runs to the end of the blob */
	n = make_certs(t, 2, guids, lens);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, 48, rd, &e) == CCP_EDECRYPT && ev == NULL);
	CHECK(strstr(e.msg, "terminating") != NULL);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, 10, rd, &e) == CCP_EDECRYPT && ev == NULL);
	/* data past the end of the blob */
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n - 1, rd, &e) == CCP_EDECRYPT && ev == NULL);
	CHECK(strstr(e.msg, "outside") != NULL);
	/* an offset inside the table itself */
	n = make_certs(t, 2, guids, lens);
	put32(t + 16, 24);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n, rd, &e) == CCP_EDECRYPT && ev == NULL);
	/* an offset + length that wraps 32 bits */
	n = make_certs(t, 2, guids, lens);
	put32(t + 20, 0xffffffffu);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n, rd, &e) == CCP_EDECRYPT && ev == NULL);
	/* overlapping entries */
	n = make_certs(t, 2, guids, lens);
	put32(t + 24 + 16, 72 + 5);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n, rd, &e) == CCP_EDECRYPT && ev == NULL);
	CHECK(strstr(e.msg, "overlap") != NULL);
	/* too many entries */
	n = make_certs(t, 33, guids, lens);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n, rd, &e) == CCP_EDECRYPT && ev == NULL);
	n = make_certs(t, 32, guids, lens);
	CHECK(ccp_snp_evidence(&ev, r, sizeof(r), t, n, rd, &e) == 0);
	CHECK(json_array_size(json_object_get(ev, "cert_chain")) == 32);
	json_decref(ev);
	/* over the size cap */
	{
		uint8_t *big = calloc(1, CCP_SNP_CERTS_MAX + 1);
		CHECK(big != NULL);
		if (big) {
			memcpy(big, t, n);
			CHECK(ccp_snp_evidence(&ev, r, sizeof(r), big, CCP_SNP_CERTS_MAX + 1, rd, &e) == CCP_EDECRYPT);
			free(big);
		}
	}
}

int main(void)
{
	test_configfs_entry();
	test_versions();
	test_cert_tables();
	return test_summary();
}
