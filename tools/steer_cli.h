/* steer_cli.h: the --steer options shared by `tiller generate`, `score` and
 * `eval` (defined in cmd_steer.c): load a control-vector GGUF, check it against
 * the model, and attach the edit hook (src/control/steer.h). */
#ifndef TL_STEER_CLI_H
#define TL_STEER_CLI_H

#include "tiller.h"

typedef struct {
    const char *file;   /* --steer FILE (NULL = no steering) */
    float scale;        /* --steer-scale A */
    const char *layers; /* --steer-layers I-J | I | all */
    int last_only;      /* --steer-last-only */
    tl_steer_vec *vec;
    tl_steer_hook hook;
} cli_steer;

#define CLI_STEER_INIT {NULL, 1.0f, "all", 0, NULL, {0}}
/* Four cli_opt rows for a command's option table. */
#define CLI_STEER_OPTS(st)                                                                                        \
    {"--steer", NULL, OPT_STR, &(st).file,                                                                        \
     "control-vector GGUF (tiller steer build, llama.cpp cvector-generator): add scale * direction.L to "         \
     "resid_post.L"},                                                                                             \
        {"--steer-scale", NULL, OPT_FLOAT, &(st).scale, "steering scale A (negative pushes the other way)"},      \
        {"--steer-layers", NULL, OPT_STR, &(st).layers, "steered layers: I-J, I or all (1 .. n_layers - 1)"},     \
        {"--steer-last-only", NULL, OPT_FLAG, &(st).last_only,                                                    \
         "add only at the last position of each forward call (the trust-dynamics reference) instead of every "   \
         "position (llama.cpp)"}

/* With st->file set: load, check against m, attach to hooks. 0 on success, else
 * the exit code (the error printed). */
int cli_steer_setup(cli_steer *st, const tl_model *m, tl_hooks *hooks);
void cli_steer_free(cli_steer *st);

#endif
