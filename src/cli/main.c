/*
 * main.c — the parley command: dispatch and shared helpers.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "checkpoint.h"

static const char cli_help[] =
	"usage: parley <command> [arguments]\n"
	"\n"
	"keys\n"
	"  parley keygen NAME --out FILE [--cosigner]\n"
	"\n"
	"logs (any bytes; each entry at most 65,535 bytes)\n"
	"  parley log init DB --key KEYFILE\n"
	"  parley log append DB [FILE...] [--lines]\n"
	"  parley log checkpoint DB [--size N]\n"
	"  parley log prove DB INDEX [--size N]\n"
	"  parley log consistency DB OLD [NEW]\n"
	"  parley log entry DB INDEX\n"
	"  parley log export DB DIR\n"
	"  parley log verify VKEY ENTRYFILE PROOFFILE [--cosigner VKEY]...\n"
	"  parley log cosign KEYFILE LOGVKEY FILE [--time UNIXSECONDS]\n"
	"\n"
	"nodes\n"
	"  parley init DIR --name NAME --listen HOST:PORT [--listen HOST:PORT]...\n"
	"              [--advertise HOST:PORT]... --api HOST:PORT\n"
	"  parley card DIR\n"
	"  parley peer add DIR CARDFILE [--addr HOST:PORT]...\n"
	"  parley serve DIR\n"
	"\n"
	"operating a running node (through its HTTP API)\n"
	"  parley send DIR --to NAME [--precedence FLASH|IMMEDIATE|PRIORITY|ROUTINE]\n"
	"              [--subject TEXT] [--id KEY] [--lines] [FILE|-]\n"
	"  parley inbox DIR [--json] [--lang en|ru]\n"
	"  parley outbox DIR [--json] [--lang en|ru]\n"
	"  parley ack DIR ORIGIN INDEX\n"
	"  parley status DIR [--json]\n"
	"\n"
	"auditing (offline, on the node's database)\n"
	"  parley audit DIR\n"
	"  parley export DIR OUTDIR\n"
	"\n"
	"treaties (TREATY: a name in treaties/ or a file; --lang en|ru)\n"
	"  parley treaty check TREATY INVENTORY [--json]\n"
	"  parley treaty validate TREATY NOTIFICATION\n"
	"  parley treaty show TREATY [NOTIFICATION] [--lang en|ru]\n"
	"  parley treaty replay DIR|EXPORTDIR --party NODE [--to NODE] [--json]\n"
	"              [--lang en|ru]\n"
	"  parley treaty exchange TREATY INVENTORY --exchange ID\n"
	"              [--commitment PRIVATE] [--no-items]\n"
	"  parley notify DIR --to NODE --treaty TREATY [--precedence P] [--id KEY]\n"
	"              [FILE|-]\n"
	"\n"
	"inspections\n"
	"  parley inspect odds N D K | parley inspect odds N D --confidence P\n"
	"  parley inspect commit ITEMS PRIVATE\n"
	"  parley inspect disclose PRIVATE ITEM_ID|--index N\n"
	"  parley inspect verify COMMITMENT DISCLOSURE\n"
	"  parley inspect draw --round R --n N --k K NAME=SEED NAME=SEED\n"
	"  parley inspect seed DIR --to NODE --request ORIGIN/INDEX\n"
	"  parley inspect reveal DIR --to NODE --request ORIGIN/INDEX\n"
	"  parley inspect select DIR|EXPORTDIR --request ORIGIN/INDEX [--json]\n";

/* Errors are one line: control characters that came from user input (a
 * name, a path, an argument) are written escaped, never raw. */
int cli_fail(const char *fmt, ...)
{
	char msg[2048];
	const unsigned char *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fputs("parley: ", stderr);
	for (p = (const unsigned char *)msg; *p != '\0'; p++) {
		if (*p == '\n')
			fputs("\\n", stderr);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

int cli_usage(const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	return CLI_EXIT_USAGE;
}

int cli_parse_u64(const char *s, uint64_t *v)
{
	return checkpoint_parse_u64(s, strlen(s), v);
}



int cli_mkdirs_for(const char *path, struct perr *e)
{
	return file_mkdirs_for(path, e);
}

int cli_load_verifier(const char *arg, struct note_verifier *v, struct perr *e)
{
	struct perr first;
	char *buf;
	size_t len;
	int rc;

	if (note_verifier_parse(v, arg, strlen(arg), &first) == 0)
		return 0;
	if (access(arg, F_OK) != 0) {
		/* Not a file: report why the text is not a key. */
		if (strchr(arg, '+') != NULL)
			return perr_set(e, "verifier key: %s", first.msg);
		return perr_set(e, "%s: no such file, and not a verifier key", arg);
	}
	if (file_read(arg, NOTE_KEY_TEXT_MAX + 2, 0, &buf, &len, e) != 0)
		return -1;
	rc = note_verifier_parse(v, buf, len, e);
	free(buf);
	if (rc != 0)
		return perr_wrap(e, "%s", arg);
	return 0;
}

int cli_load_signer(const char *path, struct note_signer *s, struct perr *e)
{
	char *buf;
	size_t len;
	int rc;

	if (file_read(path, NOTE_KEY_TEXT_MAX + 16, 0, &buf, &len, e) != 0)
		return -1;
	rc = note_signer_parse(s, buf, len, e);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (rc != 0)
		return perr_wrap(e, "%s", path);
	return 0;
}

int cmd_keygen(int argc, char **argv)
{
	static const char usage[] = "parley keygen NAME --out FILE [--cosigner]";
	const char *name = NULL, *out = NULL;
	struct note_signer s;
	struct note_verifier v;
	char text[NOTE_KEY_TEXT_MAX + 2];
	uint8_t alg = NOTE_ALG_ED25519;
	struct perr e;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--cosigner") == 0)
			alg = NOTE_ALG_COSIG;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_usage(usage);
		else if (name == NULL)
			name = argv[i];
		else
			return cli_usage(usage);
	}
	if (name == NULL || out == NULL)
		return cli_usage(usage);
	if (note_keygen(&s, name, alg, &e) != 0)
		return cli_fail("%s", e.msg);
	note_signer_format(&s, text, sizeof text - 1);
	strcat(text, "\n");
	rc = file_write(out, text, strlen(text), 0600, 1, &e);
	OPENSSL_cleanse(text, sizeof text);
	note_signer_verifier(&s, &v);
	note_signer_wipe(&s);
	if (rc != 0)
		return cli_fail("%s", e.msg);
	note_verifier_format(&v, text, sizeof text);
	printf("%s\n", text);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(cli_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "log") == 0)
		return cmd_log(argc - 1, argv + 1);
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "card") == 0)
		return cmd_card(argc - 1, argv + 1);
	if (strcmp(argv[1], "peer") == 0)
		return cmd_peer(argc - 1, argv + 1);
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} ops[] = {
		{ "serve", cmd_serve }, { "send", cmd_send },     { "inbox", cmd_inbox },
		{ "outbox", cmd_outbox }, { "ack", cmd_ack },     { "status", cmd_status },
		{ "audit", cmd_audit },   { "export", cmd_export },
		{ "treaty", cmd_treaty }, { "notify", cmd_notify },
		{ "inspect", cmd_inspect },
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(argv[1], ops[i].name) == 0)
			return ops[i].fn(argc - 1, argv + 1);
	cli_fail("unknown command \"%s\" (parley help lists the commands)", argv[1]);
	return CLI_EXIT_USAGE;
}
