/* config.json for the runtime, derived from the image config as umoci and containerd do. */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unpack/unpack.h"
#include "util/buf.h"
#include "util/fs.h"

#define PASSWD_MAX (1u << 20)
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int parse_id(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 0xffffffffUL)
		return -1;
	*out = v;
	return 0;
}

/*
 * Reads an /etc file of the rootfs: 1 when it is there, 0 when the image has none, or an error. Its
 * symlinks resolve inside the rootfs; anything but a regular file of at most PASSWD_MAX bytes (a
 * FIFO that would block the pull, a device node) is refused as unsafe layer content.
 */
static int read_in_root(int rootfs_fd, const char *name, ccp_buf *out, ccp_err *e)
{
	int r = ccp_unpack_read_in_root(rootfs_fd, name, PASSWD_MAX, 0, out, e);

	if (r == -ENOENT)
		return 0;
	return r < 0 ? ccp_err_wrap(e, "resolving the image's User") : 1;
}

/* One line of a colon-separated /etc file: up to 7 fields, not NUL-terminated. */
typedef struct line_fields {
	const char *f[7];
	size_t len[7];
	size_t n;
} line_fields;

/* Splits the next line of [*p, end) into fields; 0 at the end of the file. */
static int next_line(const char **p, const char *end, line_fields *lf)
{
	const char *eol, *q;

	if (*p >= end)
		return 0;
	if (!(eol = memchr(*p, '\n', (size_t)(end - *p))))
		eol = end;
	lf->n = 0;
	for (q = *p; lf->n < 7;) {
		const char *c = memchr(q, ':', (size_t)(eol - q));
		lf->f[lf->n] = q;
		lf->len[lf->n++] = (size_t)((c ? c : eol) - q);
		if (!c)
			break;
		q = c + 1;
	}
	*p = eol + 1;
	return 1;
}

static int field_is(const line_fields *lf, size_t i, const char *s, size_t len)
{
	return i < lf->n && lf->len[i] == len && memcmp(lf->f[i], s, len) == 0;
}

typedef struct user_spec {
	unsigned long uid, gid;
	unsigned long *sgids;   /* additional gids */
	size_t n_sgids;
} user_spec;

/*
 * Supplementary groups of a user found in /etc/passwd: every /etc/group entry listing the name as a
 * member (as runc and umoci do when the image's User names no group).
 */
static int member_groups(const ccp_buf *group, const char *name, size_t nlen, user_spec *u, ccp_err *e)
{
	const char *p = group->data, *end = group->data + group->len;
	line_fields lf;

	while (next_line(&p, end, &lf)) {
		const char *m, *mend;
		unsigned long gid;
		if (lf.n < 4 || parse_id(lf.f[2], lf.len[2], &gid) != 0)
			continue;
		for (m = lf.f[3], mend = lf.f[3] + lf.len[3]; m < mend;) {
			const char *comma = memchr(m, ',', (size_t)(mend - m));
			size_t mlen = (size_t)((comma ? comma : mend) - m);
			if (mlen == nlen && memcmp(m, name, nlen) == 0) {
				unsigned long *v = realloc(u->sgids, (u->n_sgids + 1) * sizeof(*v));
				if (!v)
					return ccp_err_oom(e);
				u->sgids = v;
				u->sgids[u->n_sgids++] = gid;
				break;
			}
			m = comma ? comma + 1 : mend;
		}
	}
	return 0;
}

/*
 * The image's User ("user", "user:group", "uid:gid", names or numbers) as runc and umoci resolve it,
 * from the rootfs's own /etc/passwd and /etc/group (no name-service lookups): a user found in
 * /etc/passwd (by name, or by number) brings its primary gid and, without an explicit group, its
 * supplementary groups; a number not found runs with gid 0; a name not found is an error.
 */
static int resolve_user(int rootfs_fd, const char *spec, user_spec *u, ccp_err *e)
{
	const char *colon = strchr(spec, ':'), *g = colon ? colon + 1 : "";
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec), glen = strlen(g);
	ccp_buf passwd = CCP_BUF_INIT(PASSWD_MAX), group = CCP_BUF_INIT(PASSWD_MAX);
	unsigned long num = 0;
	int numeric = parse_id(spec, ulen, &num) == 0, have_passwd, have_group = 0, matched = 0, r = 0;
	const char *name = NULL;
	size_t nlen = 0;
	line_fields lf;

	memset(u, 0, sizeof(*u));
	if (ulen == 0 && colon)
		return ccp_err_set(e, CCP_EINVALID, "image user \"%s\" names no user", spec);
	if ((have_passwd = read_in_root(rootfs_fd, "/etc/passwd", &passwd, e)) < 0) {
		r = have_passwd;
		goto done;
	}
	for (const char *p = passwd.data, *end = passwd.data + passwd.len; have_passwd && next_line(&p, end, &lf);) {
		unsigned long id, gid;
		if (lf.n < 4 || parse_id(lf.f[2], lf.len[2], &id) != 0 || parse_id(lf.f[3], lf.len[3], &gid) != 0)
			continue;
		if (ulen == 0 ? id != 0 : numeric ? id != num : !field_is(&lf, 0, spec, ulen))
			continue;
		u->uid = id;
		u->gid = gid;
		name = lf.f[0];
		nlen = lf.len[0];
		matched = 1;
		break;
	}
	if (!matched && ulen > 0) {
		if (!numeric) {
			r = ccp_err_set(e, CCP_EINVALID, "image user \"%.*s\" is not in the image's /etc/passwd%s",
					(int)ulen, spec, have_passwd ? "" : " (the image has no /etc/passwd)");
			goto done;
		}
		u->uid = num; /* gid 0, as in runc and containerd */
	}
	if ((glen || matched) && (have_group = read_in_root(rootfs_fd, "/etc/group", &group, e)) < 0) {
		r = have_group;
		goto done;
	}
	if (glen) {
		unsigned long gnum = 0;
		int gnumeric = parse_id(g, glen, &gnum) == 0, gfound = 0;
		for (const char *p = group.data, *end = group.data + group.len; have_group && next_line(&p, end, &lf);) {
			unsigned long id;
			if (lf.n < 3 || parse_id(lf.f[2], lf.len[2], &id) != 0)
				continue;
			if (gnumeric ? id == gnum : field_is(&lf, 0, g, glen)) {
				u->gid = id;
				gfound = 1;
				break;
			}
		}
		if (!gfound && !gnumeric) {
			r = ccp_err_set(e, CCP_EINVALID, "image group \"%s\" is not in the image's /etc/group%s", g,
					have_group ? "" : " (the image has no /etc/group)");
			goto done;
		}
		if (!gfound)
			u->gid = gnum;
	} else if (matched && have_group) {
		r = member_groups(&group, name, nlen, u, e);
	}
done:
	ccp_buf_free(&passwd);
	ccp_buf_free(&group);
	return r;
}

static json_t *string_array(const char *const *items)
{
	json_t *a = json_array();
	for (; a && *items; items++)
		json_array_append_new(a, json_string(*items));
	return a;
}

static json_t *mount(const char *dest, const char *type, const char *source, const char *const *options)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source, "options",
			 string_array(options));
}

/*
 * Labels become annotations, and StopSignal the annotation org.opencontainers.image.stopSignal, as
 * umoci does. Volumes are not turned into mounts: like umoci, ccpull leaves them to the runtime and
 * CRI, which own the storage behind them.
 */
static int annotations(json_t *spec, const json_t *cfg)
{
	json_t *labels = json_object_get(cfg, "Labels"), *stop = json_object_get(cfg, "StopSignal"), *a;

	if (!json_is_object(labels) && !(json_is_string(stop) && json_string_length(stop)))
		return 0;
	if (!(a = json_is_object(labels) ? json_deep_copy(labels) : json_object()))
		return -1;
	if (json_is_string(stop) && json_string_length(stop) &&
	    json_object_set(a, "org.opencontainers.image.stopSignal", stop) != 0) {
		json_decref(a);
		return -1;
	}
	return json_object_set_new(spec, "annotations", a);
}

int ccp_bundle_write_config(int bundle_fd, int rootfs_fd, const json_t *image_config, char **text_out, ccp_err *e)
{
	static const char *const caps[] = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
					    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
					    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
					    NULL };
	static const char *const proc_opts[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *const dev_opts[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
	static const char *const pts_opts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
						"gid=5", NULL };
	static const char *const shm_opts[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL };
	static const char *const sys_opts[] = { "nosuid", "noexec", "nodev", "ro", NULL };
	static const char *const masked[] = { "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
					      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
					      "/proc/scsi", "/sys/firmware", NULL };
	static const char *const readonly[] = { "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
						"/proc/sysrq-trigger", NULL };
	const json_t *cfg = image_config ? json_object_get(image_config, "config") : NULL;
	json_t *args = json_array(), *env = json_array(), *spec = NULL, *v;
	const char *cwd = "/", *user = "";
	user_spec u = { 0, 0, NULL, 0 };
	int has_path = 0, r = 0;
	size_t i;
	char *text = NULL;

	if (!args || !env) {
		r = ccp_err_oom(e);
		goto done;
	}
	if (json_is_object(cfg)) {
		const char *keys[] = { "Entrypoint", "Cmd" };
		for (size_t k = 0; k < 2; k++) {
			json_t *a = json_object_get(cfg, keys[k]);
			json_array_foreach(a, i, v)
				if (json_is_string(v))
					json_array_append(args, v);
		}
		json_array_foreach(json_object_get(cfg, "Env"), i, v) {
			if (!json_is_string(v))
				continue;
			if (strncmp(json_string_value(v), "PATH=", 5) == 0)
				has_path = 1;
			json_array_append(env, v);
		}
		if (json_is_string(json_object_get(cfg, "WorkingDir")) &&
		    json_string_value(json_object_get(cfg, "WorkingDir"))[0] == '/')
			cwd = json_string_value(json_object_get(cfg, "WorkingDir"));
		if (json_is_string(json_object_get(cfg, "User")))
			user = json_string_value(json_object_get(cfg, "User"));
	}
	if (!has_path)
		json_array_insert_new(env, 0, json_string(DEFAULT_PATH));
	if (text_out)
		*text_out = NULL;
	if ((r = resolve_user(rootfs_fd, user, &u, e)) != 0)
		goto done;

	spec = json_pack(
		"{s:s, s:{s:b, s:{s:I, s:I}, s:O, s:O, s:s, s:{s:o, s:o, s:o, s:o}, s:b},"
		" s:{s:s, s:b}, s:s, s:[o, o, o, o, o, o],"
		" s:{s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}], s:o, s:o}}",
		"ociVersion", "1.0.2",
		"process", "terminal", 0, "user", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid, "args", args, "env", env,
		"cwd", cwd, "capabilities", "bounding", string_array(caps), "effective", string_array(caps),
		"permitted", string_array(caps), "ambient", string_array(caps), "noNewPrivileges", 1,
		"root", "path", "rootfs", "readonly", 0,
		"hostname", "ccpull",
		"mounts", mount("/proc", "proc", "proc", proc_opts), mount("/dev", "tmpfs", "tmpfs", dev_opts),
		mount("/dev/pts", "devpts", "devpts", pts_opts), mount("/dev/shm", "tmpfs", "shm", shm_opts),
		mount("/dev/mqueue", "mqueue", "mqueue", proc_opts), mount("/sys", "sysfs", "sysfs", sys_opts),
		"linux", "namespaces", "type", "pid", "type", "network", "type", "ipc", "type", "uts", "type", "mount",
		"maskedPaths", string_array(masked), "readonlyPaths", string_array(readonly));
	if (!spec) {
		r = ccp_err_oom(e);
		goto done;
	}
	if (u.n_sgids) {
		json_t *gids = json_array(), *pu = json_object_get(json_object_get(spec, "process"), "user");
		for (i = 0; gids && i < u.n_sgids; i++)
			if (json_array_append_new(gids, json_integer((json_int_t)u.sgids[i])) != 0)
				break;
		if (!gids || i < u.n_sgids || json_object_set_new(pu, "additionalGids", gids) != 0) {
			r = ccp_err_oom(e);
			goto done;
		}
	}
	if ((json_is_object(cfg) && annotations(spec, cfg) != 0) ||
	    !(text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		r = ccp_err_oom(e);
		goto done;
	}
	if ((r = ccp_write_file_at(bundle_fd, "config.json", text, strlen(text), 0644, e)) == 0 && text_out) {
		*text_out = text;
		text = NULL;
	}
done:
	free(u.sgids);
	free(text);
	json_decref(spec);
	json_decref(args);
	json_decref(env);
	return r;
}
