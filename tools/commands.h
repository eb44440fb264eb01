/* commands.h: one declaration per command in commands.def. */
#ifndef TL_COMMANDS_H
#define TL_COMMANDS_H
#define TL_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef TL_COMMAND
#endif
