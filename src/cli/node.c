/*
 * node.c — `parley init`, `parley card`, `parley peer add`: creating a node
 * and pinning its peers, offline.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "nodedir.h"

int cmd_init(int argc, char **argv)
{
	static const char usage[] =
		"parley init DIR --name NAME --listen HOST:PORT [--listen HOST:PORT]... "
		"[--advertise HOST:PORT]... --api HOST:PORT";
	struct node_conf conf;
	const char *dir = NULL;
	struct card c;
	struct perr e;
	char *note;
	size_t len;
	int i;

	nodedir_conf_defaults(&conf);
	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--name") == 0 && v) {
			if (strlen(v) >= sizeof conf.name)
				return cli_fail("node name is longer than %d bytes", CARD_NAME_MAX);
			strcpy(conf.name, v);
		} else if (strcmp(argv[i], "--listen") == 0 && v) {
			if (conf.nlisten == NODE_MAX_PATHS || strlen(v) > CARD_ADDR_MAX)
				return cli_fail("at most %d --listen addresses", NODE_MAX_PATHS);
			strcpy(conf.listen[conf.nlisten++], v);
		} else if (strcmp(argv[i], "--advertise") == 0 && v) {
			if (conf.nadvertise == NODE_MAX_PATHS || strlen(v) > CARD_ADDR_MAX)
				return cli_fail("at most %d --advertise addresses", NODE_MAX_PATHS);
			strcpy(conf.advertise[conf.nadvertise++], v);
		} else if (strcmp(argv[i], "--api") == 0 && v) {
			if (strlen(v) > CARD_ADDR_MAX)
				return cli_fail("API address too long");
			strcpy(conf.api, v);
		} else if (argv[i][0] != '-' && dir == NULL) {
			dir = argv[i];
			continue;
		} else {
			return cli_usage(usage);
		}
		i++;
	}
	if (dir == NULL || conf.name[0] == '\0' || conf.nlisten == 0 || conf.api[0] == '\0')
		return cli_usage(usage);
	if (nodedir_init(dir, &conf, &e) != 0)
		return cli_fail("%s", e.msg);
	if (nodedir_card(dir, &c, &note, &len, &e) != 0)
		return cli_fail("%s", e.msg);
	free(note);
	printf("created node %s in %s\nfingerprint %s\n", c.name, dir, c.fingerprint);
	return 0;
}

int cmd_card(int argc, char **argv)
{
	struct card c;
	struct perr e;
	char *note;
	size_t len;

	if (argc != 2)
		return cli_usage("parley card DIR");
	if (nodedir_card(argv[1], &c, &note, &len, &e) != 0)
		return cli_fail("%s", e.msg);
	fwrite(note, 1, len, stdout);
	free(note);
	return 0;
}

int cmd_peer(int argc, char **argv)
{
	static const char usage[] = "parley peer add DIR CARDFILE [--addr HOST:PORT]...";
	char addrs[CARD_MAX_ADDRS][CARD_ADDR_MAX + 1];
	const char *dir = NULL, *file = NULL;
	size_t naddrs = 0, len, k;
	struct card c;
	struct perr e;
	char *note;
	int i, rc;

	if (argc < 2 || strcmp(argv[1], "add") != 0)
		return cli_usage(usage);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
			if (naddrs == CARD_MAX_ADDRS || strlen(argv[i + 1]) > CARD_ADDR_MAX)
				return cli_fail("at most %d --addr addresses", CARD_MAX_ADDRS);
			strcpy(addrs[naddrs++], argv[++i]);
		} else if (dir == NULL && argv[i][0] != '-') {
			dir = argv[i];
		} else if (file == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
			file = argv[i];
		} else {
			return cli_usage(usage);
		}
	}
	if (dir == NULL || file == NULL)
		return cli_usage(usage);
	if (file_read(file, 16384, 0, &note, &len, &e) != 0)
		return cli_fail("%s", e.msg);
	rc = nodedir_peer_add(dir, note, len, addrs, naddrs, &c, &e);
	free(note);
	if (rc != 0)
		return cli_fail("%s", e.msg);
	printf("pinned peer %s\nfingerprint %s (compare it with the peer's operator)\n",
	       c.name, c.fingerprint);
	for (k = 0; k < c.naddrs; k++)
		printf("path %zu: %s\n", k + 1, c.addrs[k]);
	return 0;
}
