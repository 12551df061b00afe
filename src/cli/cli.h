/*
 * cli.h — shared helpers of the parley command-line tool.
 *
 * Every command returns an exit status; errors are printed by cli_fail as
 * one line "parley: <what went wrong>" on stderr.
 */
#ifndef PARLEY_CLI_H
#define PARLEY_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "note.h"

#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage(const char *usage);

/* Reads a whole file (or stdin for "-") of at most max bytes into a malloc'd
 * NUL-terminated buffer.  A larger file is an error naming the limit. */
int cli_read_file(const char *path, size_t max, char **buf, size_t *len,
		  struct perr *e);
/* Writes a file with the given mode; O_EXCL when exclusive. */
int cli_write_file(const char *path, const void *buf, size_t len, int mode,
		   int exclusive, struct perr *e);
/* Creates every directory leading to path (like mkdir -p of dirname). */
int cli_mkdirs_for(const char *path, struct perr *e);

int cli_parse_u64(const char *s, uint64_t *v);

/* A verifier key given as its text or as a file holding it. */
int cli_load_verifier(const char *arg, struct note_verifier *v,
		      struct perr *e);
/* A signer key file. */
int cli_load_signer(const char *path, struct note_signer *s, struct perr *e);

int cmd_keygen(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_peer(int argc, char **argv);

#endif
