/* cmd_trust.c: `tiller trust-dynamics` (placeholder, filled below). */
#include "cli.h"
#include "commands.h"
int tl_cmd_trust_dynamics(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_failf(2, "trust-dynamics: not built yet");
}
