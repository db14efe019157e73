/* Test helper: builds tar streams in memory (libarchive pax writer, or raw ustar blocks). */
#ifndef CCP_TEST_TAR_BUILD_H
#define CCP_TEST_TAR_BUILD_H

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct tarb {
	struct archive *a;
	unsigned char *buf;
	size_t cap, used;
} tarb;

static inline void tb_begin(tarb *t)
{
	t->cap = 32u << 20;
	t->buf = malloc(t->cap);
	t->used = 0;
	t->a = archive_write_new();
	archive_write_set_format_pax(t->a);
	archive_write_set_bytes_per_block(t->a, 512);
	archive_write_open_memory(t->a, t->buf, t->cap, &t->used);
}

static inline struct archive_entry *tb_entry(const char *path, mode_t type, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_mtime(e, 1000000, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	return e;
}

static inline void tb_put(tarb *t, struct archive_entry *e, const void *data, size_t len)
{
	if (archive_write_header(t->a, e) != ARCHIVE_OK)
		fprintf(stderr, "tar write header: %s\n", archive_error_string(t->a));
	if (len)
		archive_write_data(t->a, data, len);
	archive_entry_free(e);
}

static inline void tb_file(tarb *t, const char *path, unsigned mode, const char *data)
{
	struct archive_entry *e = tb_entry(path, AE_IFREG, mode);
	archive_entry_set_size(e, (la_int64_t)strlen(data));
	tb_put(t, e, data, strlen(data));
}

static inline void tb_dir(tarb *t, const char *path, unsigned mode)
{
	tb_put(t, tb_entry(path, AE_IFDIR, mode), NULL, 0);
}

static inline void tb_symlink(tarb *t, const char *path, const char *target)
{
	struct archive_entry *e = tb_entry(path, AE_IFLNK, 0777);
	archive_entry_set_symlink(e, target);
	tb_put(t, e, NULL, 0);
}

static inline void tb_hardlink(tarb *t, const char *path, const char *target)
{
	struct archive_entry *e = tb_entry(path, AE_IFREG, 0644);
	archive_entry_set_hardlink(e, target);
	archive_entry_set_size(e, 0);
	tb_put(t, e, NULL, 0);
}

static inline void tb_node(tarb *t, const char *path, mode_t type, unsigned major, unsigned minor)
{
	struct archive_entry *e = tb_entry(path, type, 0644);
	archive_entry_set_rdevmajor(e, major);
	archive_entry_set_rdevminor(e, minor);
	tb_put(t, e, NULL, 0);
}

/* Finishes the archive (end blocks included); the caller frees t->buf. */
static inline void tb_end(tarb *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
}

/* One raw ustar header block for malformed cases. */
static inline void tb_raw_header(unsigned char *h, const char *name, char type, unsigned long size,
				 const char *link)
{
	unsigned sum = 0;
	int i;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011lo", size);
	snprintf((char *)h + 136, 12, "%011o", 1000000);
	h[156] = (unsigned char)type;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

#endif
