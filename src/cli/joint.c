/* joint.c — placeholder while the joint selection is written. */
#include "cli.h"

int cmd_inspect_joint(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_fail("inspect seed/reveal/select: not built yet");
}
