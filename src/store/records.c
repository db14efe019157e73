/* Image and mount records, and what is built on them: listing, forgetting images, garbage collection. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "reference/reference.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

#define WALK_DEPTH_MAX 4096

int ccp_is_overlay_mount(const char *path)
{
	char parent[PATH_MAX];
	struct statfs sfs;
	struct stat a, b;

	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", path) >= sizeof(parent))
		return 0;
	return statfs(path, &sfs) == 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC && lstat(path, &a) == 0 &&
	       stat(parent, &b) == 0 && S_ISDIR(a.st_mode) && a.st_dev != b.st_dev;
}

static json_t *chain_array(const ccp_digest *chain, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		char c[CCP_DIGEST_STR_MAX];
		if (json_array_append_new(a, json_string(ccp_digest_str(&chain[i], c))) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *ccp_store_image_record(const char *image, const ccp_digest *manifest, const ccp_digest *config,
			     const ccp_digest *chain, size_t n)
{
	char m[CCP_DIGEST_STR_MAX], c[CCP_DIGEST_STR_MAX];
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:o*}", "image", image, "manifest_digest",
			      ccp_digest_str(manifest, m), "config_digest", ccp_digest_str(config, c), "last_used",
			      (json_int_t)time(NULL), "layers", chain_array(chain, n));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

int ccp_store_add_mount(ccp_store *s, const char *bundle, const char *image, const ccp_digest *chain, size_t n,
			char *id, ccp_err *e)
{
	char name[64], rootfs[PATH_MAX];
	json_t *j;
	char *text;
	int r;

	if ((r = ccp_random_id(id, 16, e)))
		return r;
	if ((size_t)snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle) >= sizeof(rootfs))
		return ccp_err_set(e, CCP_EINVALID, "bundle path `%s` is too long", bundle);
	j = json_pack("{s:s, s:s, s:s, s:o*}", "bundle", bundle, "rootfs", rootfs, "image", image, "layers",
		      chain_array(chain, n));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return ccp_err_oom(e);
	snprintf(name, sizeof(name), "mounts/%s.json", id);
	r = ccp_store_write(s, name, text, strlen(text), e);
	free(text);
	return r;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

int ccp_store_remove_mount(const char *dir, const char *id, ccp_err *e)
{
	char path[PATH_MAX];

	if (strlen(id) != 32 || !is_hex(id, 32))
		return ccp_err_set(e, CCP_EINVALID, "mount record id \"%.40s\" is malformed", id);
	if ((size_t)snprintf(path, sizeof(path), "%s/mounts/%s.json", dir, id) >= sizeof(path))
		return ccp_err_set(e, CCP_EINVALID, "store path `%s` is too long", dir);
	if (unlink(path) < 0 && errno != ENOENT)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot remove mount record `%s`", path);
	return 0;
}

/* ---- reading the store ---- */

typedef struct layer_entry {
	ccp_store_layer_rec pub;
	char chain[CCP_DIGEST_STR_MAX];
	char diff_id[CCP_DIGEST_STR_MAX];
	char digest[CCP_DIGEST_STR_MAX];
} layer_entry;

typedef struct image_entry {
	ccp_store_image_rec pub;
	char name[72];        /* images/<name>.json */
	json_t *record;
	json_t *layers;       /* borrowed from record */
	json_t *names;        /* ccp_store_record_names */
	const char **name_v;  /* pub.names: strings of names */
} image_entry;

typedef struct bundle_entry {
	ccp_store_bundle_rec pub;
	char name[72];        /* mounts/<name>.json */
	json_t *record;
	json_t *layers;
} bundle_entry;

typedef struct staging_entry {
	ccp_store_staging_rec pub;
	char name[72];        /* staging/<name> */
} staging_entry;

struct ccp_store_records {
	staging_entry *staging;
	size_t n_staging;
	layer_entry *layers;
	size_t n_layers;
	image_entry *images;
	size_t n_images;
	bundle_entry *bundles;
	size_t n_bundles;
};

void ccp_store_records_free(ccp_store_records *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_images; i++) {
		json_decref(info->images[i].record);
		json_decref(info->images[i].names);
		free(info->images[i].name_v);
	}
	for (size_t i = 0; i < info->n_bundles; i++)
		json_decref(info->bundles[i].record);
	free(info->staging);
	free(info->layers);
	free(info->images);
	free(info->bundles);
	free(info);
}

size_t ccp_store_records_images(const ccp_store_records *info) { return info->n_images; }
size_t ccp_store_records_layers(const ccp_store_records *info) { return info->n_layers; }
size_t ccp_store_records_bundles(const ccp_store_records *info) { return info->n_bundles; }
size_t ccp_store_records_stagings(const ccp_store_records *info) { return info->n_staging; }

const ccp_store_staging_rec *ccp_store_records_staging(const ccp_store_records *info, size_t i)
{
	return i < info->n_staging ? &info->staging[i].pub : NULL;
}

const ccp_store_image_rec *ccp_store_records_image(const ccp_store_records *info, size_t i)
{
	return i < info->n_images ? &info->images[i].pub : NULL;
}

const ccp_store_layer_rec *ccp_store_records_layer(const ccp_store_records *info, size_t i)
{
	return i < info->n_layers ? &info->layers[i].pub : NULL;
}

const ccp_store_bundle_rec *ccp_store_records_bundle(const ccp_store_records *info, size_t i)
{
	return i < info->n_bundles ? &info->bundles[i].pub : NULL;
}

/* Bytes allocated under fd; a file with n links counts 1/n per link (all links of a layer are in it). */
static uint64_t disk_usage(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = depth < WALK_DEPTH_MAX ? openat(dirfd(d), de->d_name,
								  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
							 : -1;
			sum += (uint64_t)st.st_blocks * 512;
			if (sub >= 0)
				sum += disk_usage(sub, depth + 1);
		} else {
			sum += (uint64_t)st.st_blocks * 512 / (st.st_nlink ? st.st_nlink : 1);
		}
	}
	closedir(d);
	return sum;
}

static uint64_t layer_disk_usage(int layers_fd, const char *hex)
{
	int fd = openat(layers_fd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? 0 : disk_usage(fd, 0);
}

uint64_t ccp_store_disk_usage_at(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return (uint64_t)st.st_blocks * 512;
	return (uint64_t)st.st_blocks * 512 + layer_disk_usage(dirfd, name);
}

static int grow(void **arr, size_t n, size_t size)
{
	void *p;

	if (n % 16)
		return 0;
	if (!(p = realloc(*arr, (n + 16) * size)))
		return -1;
	*arr = p;
	memset((char *)p + n * size, 0, 16 * size);
	return 0;
}

json_t *ccp_store_read_record(int dirfd, const char *name)
{
	ccp_buf b = CCP_BUF_INIT(CCP_STORE_RECORD_MAX);
	char chunk[4096];
	json_t *j = NULL;
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (ccp_buf_append(&b, chunk, (size_t)n))
			break;
	close(fd);
	if (n == 0 && ccp_json_parse(&j, b.data, b.len, CCP_STORE_RECORD_MAX, name, CCP_ESTORAGE, NULL) == 0 &&
	    !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	ccp_buf_free(&b);
	return j;
}

json_t *ccp_store_record_names(const json_t *rec)
{
	json_t *names = json_array(), *v;
	const json_t *have = json_object_get(rec, "names");
	const char *image = json_string_value(json_object_get(rec, "image"));
	size_t i;

	if (!names)
		return NULL;
	json_array_foreach(have, i, v) {
		if (json_is_string(v) && !ccp_store_names_have(names, json_string_value(v)) &&
		    json_array_append(names, v) != 0)
			goto oom;
	}
	/* records written before names were kept have only "image" */
	if (image && !ccp_store_names_have(names, image) && json_array_append_new(names, json_string(image)) != 0)
		goto oom;
	return names;
oom:
	json_decref(names);
	return NULL;
}

int ccp_store_names_have(const json_t *names, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(names, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

static const char *str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* name is "<32..64 hex>.json": the records ccpull writes (temporary files start with '.'). */
static int record_name(const char *name, size_t hexlen)
{
	size_t len = strlen(name);
	return len == hexlen + 5 && strcmp(name + hexlen, ".json") == 0 && strspn(name, "0123456789abcdef") == hexlen;
}

static int load_records(int store_fd, const char *sub, size_t hexlen, ccp_store_records *info, int images,
			ccp_err *e)
{
	int fd = openat(store_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 && errno == ENOENT)
		return 0; /* a store being made, read without creating anything */
	if (fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store: cannot open %s/", sub);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return ccp_err_oom(e);
	}
	while ((de = readdir(d))) {
		json_t *j;
		if (!record_name(de->d_name, hexlen) || !(j = ccp_store_read_record(dirfd(d), de->d_name)))
			continue;
		if (images) {
			image_entry *ie;
			if (grow((void **)&info->images, info->n_images, sizeof(*ie))) {
				json_decref(j);
				closedir(d);
				return ccp_err_oom(e);
			}
			ie = &info->images[info->n_images++];
			ie->record = j;
			snprintf(ie->name, sizeof(ie->name), "%.*s", (int)hexlen, de->d_name);
			ie->layers = json_object_get(j, "layers");
			ie->pub.image = str_of(j, "image");
			ie->pub.manifest_digest = str_of(j, "manifest_digest");
			ie->pub.config_digest = str_of(j, "config_digest");
			ie->pub.last_used = json_integer_value(json_object_get(j, "last_used"));
			ie->pub.layer_count = json_array_size(ie->layers);
			if (!(ie->names = ccp_store_record_names(j)) ||
			    !(ie->name_v = calloc(json_array_size(ie->names) + 1, sizeof(*ie->name_v)))) {
				closedir(d);
				return ccp_err_oom(e);
			}
			for (size_t k = 0; k < json_array_size(ie->names); k++)
				ie->name_v[k] = json_string_value(json_array_get(ie->names, k));
			ie->pub.names = ie->name_v;
			ie->pub.name_count = json_array_size(ie->names);
		} else {
			bundle_entry *be;
			if (grow((void **)&info->bundles, info->n_bundles, sizeof(*be))) {
				json_decref(j);
				closedir(d);
				return ccp_err_oom(e);
			}
			be = &info->bundles[info->n_bundles++];
			be->record = j;
			snprintf(be->name, sizeof(be->name), "%.*s", (int)hexlen, de->d_name);
			be->layers = json_object_get(j, "layers");
			be->pub.bundle = str_of(j, "bundle");
			be->pub.image = str_of(j, "image");
			be->pub.live = ccp_is_overlay_mount(str_of(j, "rootfs"));
		}
	}
	closedir(d);
	return 0;
}

static int load_layers(int store_fd, ccp_store_records *info, ccp_err *e)
{
	int fd = openat(store_fd, "layers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store: cannot open layers/");
	if (!(d = fdopendir(fd))) {
		close(fd);
		return ccp_err_oom(e);
	}
	while ((de = readdir(d))) {
		struct stat st;
		char meta[80];
		layer_entry *le;
		json_t *j;

		if (strlen(de->d_name) != 64 || !is_hex(de->d_name, 64) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (grow((void **)&info->layers, info->n_layers, sizeof(*le))) {
			closedir(d);
			return ccp_err_oom(e);
		}
		le = &info->layers[info->n_layers++];
		snprintf(le->chain, sizeof(le->chain), "sha256:%.64s", de->d_name);
		snprintf(meta, sizeof(meta), "%.64s.json", de->d_name);
		if ((j = ccp_store_read_record(dirfd(d), meta))) {
			snprintf(le->diff_id, sizeof(le->diff_id), "%s", str_of(j, "diff_id"));
			snprintf(le->digest, sizeof(le->digest), "%s", str_of(j, "digest"));
			le->pub.size = (uint64_t)json_integer_value(json_object_get(j, "size"));
			json_decref(j);
		}
		le->pub.disk_usage = layer_disk_usage(dirfd(d), de->d_name);
	}
	closedir(d);
	return 0;
}

static layer_entry *find_layer(ccp_store_records *info, const char *chain)
{
	for (size_t i = 0; i < info->n_layers; i++)
		if (strcmp(info->layers[i].chain, chain) == 0)
			return &info->layers[i];
	return NULL;
}

static void count_uses(ccp_store_records *info)
{
	size_t i, k;
	json_t *v;

	for (i = 0; i < info->n_images; i++)
		json_array_foreach(info->images[i].layers, k, v) {
			layer_entry *le = find_layer(info, json_string_value(v) ? json_string_value(v) : "");
			if (le)
				le->pub.images++;
		}
	for (i = 0; i < info->n_bundles; i++)
		if (info->bundles[i].pub.live)
			json_array_foreach(info->bundles[i].layers, k, v) {
				layer_entry *le = find_layer(info, json_string_value(v) ? json_string_value(v) : "");
				if (le)
					le->pub.bundles++;
			}
}

/*
 * The staging directories: each belongs to a pull while it holds staging/<name>.lock; one whose lock
 * is free is the leftover of a pull that died (removed by gc). The lock is only tried, shared and
 * released at once: the pull that owns a directory took its lock before making it.
 */
static int load_staging(int store_fd, ccp_store_records *info, ccp_err *e)
{
	int fd = openat(store_fd, "staging", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot read the store's staging/");
	if (!(d = fdopendir(fd))) {
		close(fd);
		return ccp_err_oom(e);
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char lockname[300];
		staging_entry *se;
		int lfd, live = 0;

		if (de->d_name[0] == '.' || len >= sizeof(se->name) ||
		    (len > 5 && strcmp(de->d_name + len - 5, ".lock") == 0))
			continue;
		snprintf(lockname, sizeof(lockname), "%s.lock", de->d_name);
		if ((lfd = openat(dirfd(d), lockname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			live = flock(lfd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
			close(lfd); /* closing releases a lock taken */
		}
		if (grow((void **)&info->staging, info->n_staging, sizeof(*info->staging)) < 0) {
			closedir(d);
			return ccp_err_oom(e);
		}
		se = &info->staging[info->n_staging++];
		memcpy(se->name, de->d_name, len + 1);
		se->pub.live = live;
		se->pub.disk_usage = ccp_store_disk_usage_at(dirfd(d), de->d_name);
	}
	closedir(d);
	return 0;
}

static int scan_fd(ccp_store_records **out, int store_fd, ccp_err *e)
{
	ccp_store_records *info = calloc(1, sizeof(*info));
	int r;

	*out = NULL;
	if (!info)
		return ccp_err_oom(e);
	if ((r = load_layers(store_fd, info, e)) || (r = load_records(store_fd, "images", 64, info, 1, e)) ||
	    (r = load_records(store_fd, "mounts", 32, info, 0, e)) || (r = load_staging(store_fd, info, e))) {
		ccp_store_records_free(info);
		return r;
	}
	/* Pointers into the arrays are taken only now that they no longer move. */
	for (size_t i = 0; i < info->n_layers; i++) {
		layer_entry *le = &info->layers[i];
		le->pub.chain_id = le->chain;
		le->pub.diff_id = le->diff_id;
		le->pub.digest = le->digest;
	}
	for (size_t i = 0; i < info->n_staging; i++)
		info->staging[i].pub.name = info->staging[i].name;
	count_uses(info);
	*out = info;
	return 0;
}

int ccp_store_scan(ccp_store_records **out, const char *dir, ccp_err *e)
{
	ccp_store *s;
	int r;

	*out = NULL;
	if ((r = ccp_store_open_readonly(&s, dir, e)))
		return r;
	if (!s) {
		/* nothing pulled yet: an empty listing, and still no store */
		if (!(*out = calloc(1, sizeof(**out))))
			return ccp_err_oom(e);
		return 0;
	}
	r = scan_fd(out, ccp_store_fd(s), e);
	ccp_store_close(s);
	return r;
}

/* Takes name out of image record ie: rewrites the record with the names left, or removes it. */
static int forget_name(ccp_store *s, const image_entry *ie, const char *name, ccp_err *e)
{
	json_t *names = json_array(), *rec = NULL, *v;
	char path[96], *text = NULL;
	size_t i;
	int r = 0;

	snprintf(path, sizeof(path), "images/%s.json", ie->name);
	if (!names)
		return ccp_err_oom(e);
	json_array_foreach(ie->names, i, v)
		if (strcmp(json_string_value(v), name) != 0 && json_array_append(names, v) != 0) {
			json_decref(names);
			return ccp_err_oom(e);
		}
	if (json_array_size(names) == 0) {
		json_decref(names);
		if (unlinkat(ccp_store_fd(s), path, 0) < 0 && errno != ENOENT)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot remove %s", ccp_store_dir(s), path);
		return 0;
	}
	/* "image" stays the latest name left */
	if (!(rec = json_deep_copy(ie->record)) ||
	    json_object_set(rec, "image", json_array_get(names, json_array_size(names) - 1)) != 0) {
		json_decref(names);
		json_decref(rec);
		return ccp_err_oom(e);
	}
	if (json_object_set_new(rec, "names", names) != 0 || !(text = json_dumps(rec, JSON_COMPACT)))
		r = ccp_err_oom(e);
	else
		r = ccp_write_file_at(ccp_store_fd(s), path, text, strlen(text), 0644, e);
	free(text);
	json_decref(rec);
	return r;
}

int ccp_store_rm_image(const char *dir, const char *image, size_t *removed, ccp_err *e)
{
	ccp_store_records *info = NULL;
	ccp_store *s = NULL;
	ccp_digest want;
	ccp_ref ref;
	char *norm = NULL;
	int by_digest = strchr(image, '@') == NULL && strncmp(image, "sha256:", 7) == 0, r, lock = -1;
	size_t n = 0;

	*removed = 0;
	if (by_digest) {
		if ((r = ccp_digest_parse(&want, image, strlen(image), e)))
			return r;
	} else {
		if ((r = ccp_ref_parse(&ref, image, e)))
			return r;
		norm = ccp_ref_string(&ref);
		ccp_ref_free(&ref);
		if (!norm)
			return ccp_err_oom(e);
	}
	/* A store that is not there holds no image: it is not made only to be found empty. */
	if (faccessat(AT_FDCWD, dir, F_OK, AT_EACCESS) < 0 && errno == ENOENT) {
		r = ccp_err_set(e, CCP_EINVALID, "store `%s` has no image %s: there is no store there", dir, image);
		goto out;
	}
	if ((r = ccp_store_open(&s, dir, e)))
		goto out;
	if ((lock = ccp_store_lock_images(s, e)) < 0) {
		r = CCP_ESTORAGE;
		goto out;
	}
	if ((r = scan_fd(&info, ccp_store_fd(s), e)))
		goto out;
	for (size_t i = 0; i < info->n_images; i++) {
		const image_entry *ie = &info->images[i];
		char name[96], d[CCP_DIGEST_STR_MAX];
		if (by_digest) {
			if (strcmp(ie->pub.manifest_digest, ccp_digest_str(&want, d)) != 0)
				continue;
			snprintf(name, sizeof(name), "images/%s.json", ie->name);
			if (unlinkat(ccp_store_fd(s), name, 0) < 0 && errno != ENOENT) {
				r = ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot remove %s", dir, name);
				goto out;
			}
			n += ie->pub.name_count ? ie->pub.name_count : 1;
		} else if (ccp_store_names_have(ie->names, norm)) {
			if ((r = forget_name(s, ie, norm, e)))
				goto out;
			n++;
		}
	}
	*removed = n;
	if (n == 0)
		r = ccp_err_set(e, CCP_EINVALID, "store `%s` has no image %s", dir, image);
out:
	free(norm);
	ccp_store_records_free(info);
	if (lock >= 0)
		close(lock);
	ccp_store_close(s);
	return r;
}

/* ---- garbage collection ---- */

/* Removes layers/<hex> (and its metadata) by first renaming it into staging, so a crash never leaves half a layer visible. */
static int remove_layer(ccp_store *s, const char *hex, ccp_err *e)
{
	char from[80], to[80], id[33], meta[80];
	int r;

	if ((r = ccp_random_id(id, 16, e)))
		return r;
	snprintf(from, sizeof(from), "layers/%s", hex);
	snprintf(to, sizeof(to), "staging/%s", id);
	if (renameat(ccp_store_fd(s), from, ccp_store_fd(s), to) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot remove layer %s", ccp_store_dir(s), hex);
	snprintf(meta, sizeof(meta), "layers/%s.json", hex);
	unlinkat(ccp_store_fd(s), meta, 0);
	if ((r = ccp_rm_rf_at(ccp_store_fd(s), to)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, -r, "store `%s`: cannot remove %s", ccp_store_dir(s), to);
	return 0;
}

static int used_by_images(const ccp_store_records *info, const char *config_digest)
{
	for (size_t i = 0; i < info->n_images; i++)
		if (strcmp(info->images[i].pub.config_digest, config_digest) == 0)
			return 1;
	return 0;
}

/* Stale entries of one directory: temporary files of interrupted writes, metadata without a layer, lock files. */
static size_t sweep(ccp_store *s, const char *sub, const ccp_store_records *info)
{
	int fd = openat(ccp_store_fd(s), sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int is_layers = strcmp(sub, "layers") == 0, is_blobs = strcmp(sub, "blobs") == 0;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		int stale = 0;
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (name[0] == '.' && strstr(name, ".tmp-")) {
			stale = 1;
		} else if (is_layers && len == 64 + 5 && strcmp(name + 64, ".lock") == 0) {
			stale = 1; /* nobody else has the store open: no pull holds it */
		} else if (is_layers && len == 64 + 5 && strcmp(name + 64, ".json") == 0) {
			char dir[65];
			snprintf(dir, sizeof(dir), "%.64s", name);
			stale = fstatat(dirfd(d), dir, &st, AT_SYMLINK_NOFOLLOW) < 0;
		} else if (is_blobs && strncmp(name, "sha256-", 7) == 0) {
			char digest[CCP_DIGEST_STR_MAX];
			snprintf(digest, sizeof(digest), "sha256:%s", name + 7);
			stale = !used_by_images(info, digest);
		}
		if (stale && ccp_rm_rf_at(dirfd(d), name) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int ccp_store_collect(const char *dir, ccp_store_gc_counts *stats, ccp_err *e)
{
	ccp_store_records *info = NULL;
	ccp_store *s = NULL;
	int r;

	if ((r = ccp_store_open_exclusive(&s, dir, e)))
		goto out;
	{
		/* opening removed the staging leftovers of crashed pulls: they count as freed */
		size_t n;
		uint64_t bytes;
		ccp_store_stale_staging(s, &n, &bytes);
		stats->stale_removed += n;
		stats->bytes_freed += bytes;
	}
	if ((r = scan_fd(&info, ccp_store_fd(s), e)))
		goto out;
	for (size_t i = 0; i < info->n_bundles; i++) {
		char name[96];
		if (info->bundles[i].pub.live)
			continue;
		snprintf(name, sizeof(name), "mounts/%s.json", info->bundles[i].name);
		if (unlinkat(ccp_store_fd(s), name, 0) == 0)
			stats->stale_removed++;
	}
	for (size_t i = 0; i < info->n_layers; i++) {
		const ccp_store_layer_rec *l = &info->layers[i].pub;
		if (l->images || l->bundles)
			continue;
		if ((r = remove_layer(s, l->chain_id + 7, e)))
			goto out;
		stats->layers_removed++;
		stats->bytes_freed += l->disk_usage;
	}
	stats->stale_removed += sweep(s, "layers", info) + sweep(s, "images", info) + sweep(s, "mounts", info) +
				sweep(s, "blobs", info);
out:
	ccp_store_records_free(info);
	ccp_store_close(s);
	return r;
}
