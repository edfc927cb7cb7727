// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "outfile.h"

int outfile_open(struct outfile *o, const char *path)
{
	const char *slash;
	struct stat st;
	mode_t mask;
	size_t dirlen;
	int fd, err;

	memset(o, 0, sizeof(*o));
	o->path = path;
	if (!path)
		return 0;
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (!path[0])
		return -ENOENT;
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return -EISDIR;
	/* "DIR/.NAME.XXXXXX": the same directory, so that rename() is atomic */
	slash = strrchr(path, '/');
	dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	o->tmp = malloc(strlen(path) + 9);
	if (!o->tmp)
		return -ENOMEM;
	memcpy(o->tmp, path, dirlen);
	strcpy(o->tmp + dirlen, ".");
	strcat(o->tmp, path + dirlen);
	strcat(o->tmp, ".XXXXXX");
	fd = mkostemp(o->tmp, O_CLOEXEC); /* O_EXCL: never an existing file or link */
	if (fd < 0) {
		err = -errno;
		free(o->tmp);
		o->tmp = NULL;
		return err;
	}
	/* mkostemp makes it 0600; a report gets what the user's umask gives a new file */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		err = -errno;
		close(fd);
		outfile_discard(o);
		return err;
	}
	return 0;
}

int outfile_commit(struct outfile *o)
{
	int err = 0;

	if (!o->f)
		return 0;
	if (o->f == stdout) {
		o->f = NULL;
		return fflush(stdout) || ferror(stdout) ? -(errno ? errno : EIO) : 0;
	}
	if (fflush(o->f) || ferror(o->f) || fsync(fileno(o->f)))
		err = -(errno ? errno : EIO);
	if (fclose(o->f) && !err)
		err = -(errno ? errno : EIO);
	o->f = NULL;
	if (!err && rename(o->tmp, o->path))
		err = -errno;
	if (err) {
		outfile_discard(o);
		return err;
	}
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

void outfile_discard(struct outfile *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
}
