/* config.json for the runtime, derived from the image config as umoci and containerd do. */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* Reads an /etc file of the rootfs, resolved inside it (its symlinks cannot lead out). */
static int read_in_root(int rootfs_fd, const char *name, ccp_buf *out)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	char chunk[4096];
	long fd = syscall(SYS_openat2, rootfs_fd, name, &how, sizeof(how));
	ssize_t n;

	if (fd < 0)
		return -1;
	out->max = PASSWD_MAX;
	while ((n = read((int)fd, chunk, sizeof(chunk))) > 0)
		if (ccp_buf_append(out, chunk, (size_t)n)) {
			close((int)fd);
			return -1;
		}
	close((int)fd);
	return n < 0 ? -1 : 0;
}

/* Finds name in a passwd/group style file; field 2 (0-based) is the id, field 3 the primary gid. */
static int lookup_name(const ccp_buf *file, const char *name, size_t nlen, unsigned long *id, unsigned long *gid)
{
	const char *p = file->data, *end = file->data + file->len;

	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *f[5] = { p };
		size_t nf = 1;
		if (!eol)
			eol = end;
		for (const char *q = p; q < eol && nf < 5; q++)
			if (*q == ':')
				f[nf++] = q + 1;
		if (nf >= 3 && (size_t)(f[1] - f[0] - 1) == nlen && memcmp(f[0], name, nlen) == 0) {
			const char *idend = nf > 3 ? f[3] - 1 : eol;
			if (parse_id(f[2], (size_t)(idend - f[2]), id) != 0)
				return -1;
			if (gid && nf >= 4) {
				const char *gend = nf > 4 ? f[4] - 1 : eol;
				if (parse_id(f[3], (size_t)(gend - f[3]), gid) != 0)
					return -1;
			}
			return 0;
		}
		p = eol + 1;
	}
	return -1;
}

/* "user[:group]" with names or numbers; names are looked up in the rootfs's /etc/passwd and /etc/group. */
static int resolve_user(int rootfs_fd, const char *spec, unsigned long *uid, unsigned long *gid, ccp_err *e)
{
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	ccp_buf passwd = CCP_BUF_INIT(PASSWD_MAX), group = CCP_BUF_INIT(PASSWD_MAX);
	unsigned long pgid = 0;
	int r = 0;

	*uid = 0;
	*gid = 0;
	if (ulen == 0 && !colon)
		return 0;
	if (parse_id(spec, ulen, uid) == 0) {
		*gid = 0; /* a numeric user without a group runs with gid 0, as in runc and containerd */
	} else if (read_in_root(rootfs_fd, "/etc/passwd", &passwd) != 0 || lookup_name(&passwd, spec, ulen, uid, &pgid) != 0) {
		r = ccp_err_set(e, CCP_EINVALID, "image user \"%.*s\" is not in the image's /etc/passwd", (int)ulen, spec);
		goto done;
	} else {
		*gid = pgid;
	}
	if (colon && colon[1]) {
		const char *g = colon + 1;
		if (parse_id(g, strlen(g), gid) != 0) {
			if (read_in_root(rootfs_fd, "/etc/group", &group) != 0 ||
			    lookup_name(&group, g, strlen(g), gid, NULL) != 0)
				r = ccp_err_set(e, CCP_EINVALID, "image group \"%s\" is not in the image's /etc/group", g);
		}
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

int ccp_bundle_write_config(int bundle_fd, int rootfs_fd, const json_t *image_config, ccp_err *e)
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
	unsigned long uid = 0, gid = 0;
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
	if ((r = resolve_user(rootfs_fd, user, &uid, &gid, e)) != 0)
		goto done;

	spec = json_pack(
		"{s:s, s:{s:b, s:{s:I, s:I}, s:O, s:O, s:s, s:{s:o, s:o, s:o, s:o}, s:b},"
		" s:{s:s, s:b}, s:s, s:[o, o, o, o, o, o],"
		" s:{s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}], s:o, s:o}}",
		"ociVersion", "1.0.2",
		"process", "terminal", 0, "user", "uid", (json_int_t)uid, "gid", (json_int_t)gid, "args", args, "env", env,
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
	if (json_is_object(cfg) && json_is_object(json_object_get(cfg, "Labels")))
		json_object_set(spec, "annotations", json_object_get(cfg, "Labels"));
	if (!(text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		r = ccp_err_oom(e);
		goto done;
	}
	r = ccp_write_file_at(bundle_fd, "config.json", text, strlen(text), 0644, e);
done:
	free(text);
	json_decref(spec);
	json_decref(args);
	json_decref(env);
	return r;
}
