#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "store/store.h"
#include "util/fs.h"

#define CHAIN "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int count_entries(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 0", dir);
	return system(cmd) == 0 ? 0 : 1;
}

int main(void)
{
	char tmpl[] = "/tmp/ccp-store-XXXXXX", path[4096], staging[4096];
	ccp_store *s = NULL;
	ccp_staging st;
	ccp_digest chain;
	ccp_err e = CCP_ERR_INIT;
	int lock = -1, fd;

	if (!mkdtemp(tmpl))
		return 1;
	CHECK(ccp_digest_parse(&chain, CHAIN, strlen(CHAIN), &e) == 0);
	CHECK(ccp_store_open(&s, "relative/store", &e) == CCP_EINVALID);
	CHECK(ccp_store_open(&s, tmpl, &e) == 0);
	CHECK(!ccp_store_has_layer(s, &chain));

	/* a staged layer is invisible until committed, then visible with its metadata */
	CHECK(ccp_stage_begin(s, &st, &e) == 0);
	snprintf(path, sizeof(path), "%.4000s/file", st.upper);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(!ccp_store_has_layer(s, &chain));
	CHECK(ccp_store_lock_layer(s, &chain, NULL, &lock, &e) == 0);
	CHECK(ccp_stage_commit(s, &st, &chain, "{\"chain_id\":\"" CHAIN "\"}", &e) == 0);
	ccp_stage_abort(&st);
	ccp_store_unlock(lock);
	CHECK(ccp_store_has_layer(s, &chain));
	CHECK(ccp_store_layer_path(s, &chain, staging, sizeof(staging), &e) == 0);
	snprintf(path, sizeof(path), "%.4000s/file", staging);
	CHECK(exists(path));
	snprintf(path, sizeof(path), "%s/layers/%s.json", tmpl, chain.hex);
	CHECK(exists(path));
	snprintf(staging, sizeof(staging), "%s/staging", tmpl);
	CHECK(count_entries(staging) == 0);

	/* who may reuse a layer: its origin (older metadata without one is not public) */
	{
		ccp_layer_source a, a_otherkey, b, plain;
		ccp_digest other;
		char *meta;

		memset(&a, 0, sizeof(a));
		CHECK(ccp_digest_compute(&a.blob, CCP_SHA256, "blob a", 6, &e) == 0);
		CHECK(ccp_digest_compute(&a.key_id, CCP_SHA256, "key a", 5, &e) == 0);
		a.diff_id = chain;
		a.media_type = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";
		a.encrypted = 1;
		a_otherkey = a;
		CHECK(ccp_digest_compute(&a_otherkey.key_id, CCP_SHA256, "key x", 5, &e) == 0);
		b = a;
		CHECK(ccp_digest_compute(&b.blob, CCP_SHA256, "blob b", 6, &e) == 0);
		plain = a;
		plain.encrypted = 0;
		plain.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";

		CHECK(ccp_store_layer_state(s, &chain, &plain) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_state(s, &chain, &a) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_proven(s, &chain, &a, &e) == 0);
		CHECK(ccp_store_layer_state(s, &chain, &a) == CCP_LAYER_REUSABLE);
		CHECK(ccp_store_layer_state(s, &chain, &a_otherkey) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_state(s, &chain, &b) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_state(s, &chain, &plain) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_proven(s, &chain, &b, &e) == 0);
		CHECK(ccp_store_layer_state(s, &chain, &a) == CCP_LAYER_REUSABLE);
		CHECK(ccp_store_layer_state(s, &chain, &b) == CCP_LAYER_REUSABLE);
		/* the list is bounded: the oldest blob is forgotten (it proves itself again) */
		for (int i = 0; i < 40; i++) {
			char s_[16];
			snprintf(s_, sizeof(s_), "blob %d", i);
			CHECK(ccp_digest_compute(&b.blob, CCP_SHA256, s_, strlen(s_), &e) == 0);
			CHECK(ccp_store_layer_proven(s, &chain, &b, &e) == 0);
		}
		CHECK(ccp_store_layer_state(s, &chain, &b) == CCP_LAYER_REUSABLE);
		CHECK(ccp_store_layer_state(s, &chain, &a) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_proven(s, &chain, &plain, &e) == 0);
		CHECK(ccp_store_layer_state(s, &chain, &a_otherkey) == CCP_LAYER_REUSABLE);
		CHECK(ccp_store_layer_state(s, &chain, &plain) == CCP_LAYER_REUSABLE);

		/* made from an encrypted blob: only that blob with that key */
		CHECK(ccp_digest_compute(&other, CCP_SHA256, "other chain", 11, &e) == 0);
		CHECK(ccp_store_layer_state(s, &other, &a) == CCP_LAYER_ABSENT);
		CHECK(ccp_stage_begin(s, &st, &e) == 0);
		CHECK((meta = ccp_store_layer_meta(&other, &a)) != NULL);
		CHECK(meta && ccp_stage_commit(s, &st, &other, meta, &e) == 0);
		free(meta);
		ccp_stage_abort(&st);
		CHECK(ccp_store_layer_state(s, &other, &a) == CCP_LAYER_REUSABLE);
		CHECK(ccp_store_layer_state(s, &other, &a_otherkey) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_state(s, &other, &plain) == CCP_LAYER_UNPROVEN);
		/* unreadable metadata: not public; proving writes it anew */
		snprintf(path, sizeof(path), "%s/layers/%s.json", tmpl, other.hex);
		fd = open(path, O_WRONLY | O_TRUNC);
		CHECK(fd >= 0 && write(fd, "{\"origin\":", 10) == 10);
		close(fd);
		CHECK(ccp_store_layer_state(s, &other, &a) == CCP_LAYER_UNPROVEN);
		CHECK(ccp_store_layer_proven(s, &other, &b, &e) == 0);
		CHECK(ccp_store_layer_state(s, &other, &b) == CCP_LAYER_REUSABLE);
		CHECK(ccp_store_layer_state(s, &other, &a) == CCP_LAYER_UNPROVEN);
	}

	/* an aborted stage leaves nothing */
	CHECK(ccp_stage_begin(s, &st, &e) == 0);
	ccp_stage_abort(&st);
	CHECK(count_entries(staging) == 0);

	/* a staging dir whose owner died is removed by the next open; a live one is kept */
	CHECK(ccp_stage_begin(s, &st, &e) == 0);
	snprintf(path, sizeof(path), "%s", st.dir);
	ccp_store_close(s);
	CHECK(ccp_store_open(&s, tmpl, &e) == 0);
	CHECK(exists(path)); /* still locked by us */
	close(st.lock_fd);   /* the owner "dies" */
	st.lock_fd = -1;
	ccp_store_close(s);
	CHECK(ccp_store_open(&s, tmpl, &e) == 0);
	CHECK(!exists(path));
	CHECK(count_entries(staging) == 0);
	ccp_store_close(s);

	/* a store of another layout version is refused */
	snprintf(path, sizeof(path), "%s/layout-version", tmpl);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "99\n", 3) == 3);
	close(fd);
	CHECK(ccp_store_open(&s, tmpl, &e) == CCP_ESTORAGE);
	CHECK(strstr(e.msg, "layout version") != NULL);

	ccp_rm_rf_at(AT_FDCWD, tmpl);
	return test_summary();
}
