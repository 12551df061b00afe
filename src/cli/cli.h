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
#include <stdio.h>

#include <jansson.h>

#include "err.h"
#include "file.h"
#include "note.h"

#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage(const char *usage);

/* Creates every directory leading to path (like mkdir -p of dirname). */
int cli_mkdirs_for(const char *path, struct perr *e);

int cli_parse_u64(const char *s, uint64_t *v);

/* A verifier key given as its text or as a file holding it. */
int cli_load_verifier(const char *arg, struct note_verifier *v,
		      struct perr *e);
/* A signer key file. */
int cli_load_signer(const char *path, struct note_signer *s, struct perr *e);

/* The node's HTTP API (ops.c).  cli_api_call sends one request to the node
 * in dir (taking the reference to body) and returns the HTTP status, with
 * the JSON reply in *out; cli_api_ok also prints the node's error and
 * returns an exit status. */
int cli_api_call(const char *dir, const char *method, const char *path,
		 json_t *body, json_t **out, struct perr *e);
int cli_api_ok(const char *dir, const char *method, const char *path,
	       json_t *body, json_t **out);
/* Reads all of f (at most 128 MiB), NUL-terminated; NULL on failure. */
char *cli_read_stream(FILE *f, size_t *len);
/* Prints "origin index" per entry of a submission reply. */
int cli_print_entries(json_t *reply);

int cmd_keygen(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_peer(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_ack(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_treaty(int argc, char **argv);
int cmd_notify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
/* inspect seed | reveal | select: the joint selection, on logs (joint.c) */
int cmd_inspect_joint(int argc, char **argv);

#endif
