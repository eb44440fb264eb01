/* cmd_convert.c: `tiller convert IN OUT`: load a model in any format tl_model_load
 * knows and save it in the format OUT's extension names (tl_model_save_opts). */
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

int tl_cmd_convert(int argc, char **argv) {
    const char *dtype_s = "f32", *tok_path = NULL;
    int version = 0, verbose = 0;
    const char *pos[2];
    int npos = 0;
    int threads = 0;
    const cli_opt opts[] = {
        {"--dtype", NULL, OPT_STR, &dtype_s,
         "tensor type of OUT: f32, f16, bf16, or (.gguf only) q8_0, q4_0, q4_k, q5_k, q6_k with ggml's reference "
         "quantizer (norms stay f32; rows that are not whole K-quant blocks fall back to q8_0) (.bin: f32 only)"},
        {"--llama2c-version", NULL, OPT_INT, &version, "llama2.c .bin header: 0 (legacy) or 1 (ak42)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path,
         "attach this vocabulary (.bin, .gguf, .json) to OUT (GGUF stores it as tokenizer.ggml.*)"},
        CLI_OPT_THREADS(threads),
        {"--verbose", "-v", OPT_FLAG, &verbose, "log progress"},
    };
    const cli_spec spec = {
        "tiller convert IN OUT [--dtype f32|f16|bf16|q8_0|q4_0|q4_k|q5_k|q6_k] [--llama2c-version 0|1] [--tokenizer FILE]",
        "Convert a model between formats, chosen by extension: llama2.c .bin, Hugging Face\n"
        "safetensors (a directory holding model.safetensors + config.json, a path without\n"
        "extension, which is created, or FILE.safetensors with config.json beside it), and\n"
        "every other format tiller loads. OUT appears only when complete.",
        opts, (int)(sizeof opts / sizeof *opts), pos, 2, &npos};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (threads < 0) return cli_failf(2, "%s: --threads %d (>= 0)", argv[0], threads);
    cli_set_threads(threads);
    if (npos != 2) {
        fprintf(stderr, "tiller: convert needs IN and OUT\nusage: %s  (see --help)\n", spec.usage);
        return 2;
    }
    cli_log_init(verbose);
    tl_save_opts so = {TL_DTYPE_F32, version};
    if (tl_dtype_parse(dtype_s, &so.dtype) != TL_OK) return cli_failf(2, "--dtype: %s", tl_last_error());
    if (version != 0 && version != 1)
        return cli_failf(2, "--llama2c-version: %d is not 0 or 1", version);
    if (!strcmp(pos[0], pos[1])) return cli_failf(2, "convert: IN and OUT are the same path '%s'", pos[0]);
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL; /* IN's, or --tokenizer's: written with the model where OUT's format holds one */
    if (tl_model_load(pos[0], &m, &tok) != TL_OK) return cli_fail();
    if (tl_model_dequantize(m) != TL_OK) { /* a quantized input: f32 first, then any OUT dtype */
        tl_tokenizer_free(tok);
        tl_model_free(m);
        return cli_fail();
    }
    if (tok_path) {
        tl_tokenizer *t;
        if (tl_tokenizer_load(tok_path, &t) != TL_OK) {
            tl_tokenizer_free(tok);
            tl_model_free(m);
            return cli_fail();
        }
        if (tl_tokenizer_n_vocab(t) != tl_model_config(m)->vocab_size) {
            int nv = tl_tokenizer_n_vocab(t), mv = tl_model_config(m)->vocab_size;
            tl_tokenizer_free(t);
            tl_tokenizer_free(tok);
            tl_model_free(m);
            return cli_failf(1, "%s: the vocabulary has %d tokens but %s has %d embedding rows", tok_path, nv,
                             pos[0], mv);
        }
        tl_tokenizer_free(tok);
        tok = t;
    }
    tl_status s = tl_model_save_opts(m, tok, pos[1], &so);
    size_t n = tl_model_n_params(m);
    tl_tokenizer_free(tok);
    tl_model_free(m);
    if (s != TL_OK) return cli_fail();
    printf("%s -> %s: %zu parameters, %s\n", pos[0], pos[1], n, tl_dtype_name(so.dtype));
    return 0;
}
