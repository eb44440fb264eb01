/* hf_arch.c: Hugging Face checkpoints of the architectures beyond llama (config.json keys,
 * tensor names, GPT-NeoX's fused query_key_value layout). safetensors.c owns the container
 * and calls in here whenever config.json's model_type is not "llama".
 *
 *   model_type  tiller      config.json keys read (besides the sizes)
 *   gpt_neox    gptneox     rotary_pct, rotary_emb_base, layer_norm_eps, use_parallel_residual
 *                           (true only), hidden_act "gelu" only, tie_word_embeddings
 *   olmo        olmo        rope_theta, clip_qkv, attention_bias (false only), hidden_act "silu",
 *                           tie_word_embeddings; LayerNorm eps is OLMo's fixed 1e-5
 *   qwen2       qwen2       rope_theta, rms_norm_eps, use_sliding_window (false only),
 *                           hidden_act "silu", tie_word_embeddings
 * Anything else (olmo2, mistral, phi, gemma, ...) is refused by name. rope_scaling must be null.
 *
 * GPT-NeoX's gpt_neox.layers.N.attention.query_key_value.{weight,bias} holds per head h the
 * rows [q_h; k_h; v_h] (HF views it as [.., H, 3 D]); tiller keeps q, k and v as three adjacent
 * blocks [q_0..q_H-1; k_..; v_..] — the order llama.cpp's converter writes to attn_qkv. The
 * row (or bias element) r of HF goes to tl_hf_qkv_row(r).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "format.h"
#include "model/arch.h"

static const struct {
    const char *model_type;
    tl_arch arch;
} hf_types[] = {{"gpt_neox", TL_ARCH_GPTNEOX}, {"olmo", TL_ARCH_OLMO}, {"qwen2", TL_ARCH_QWEN2}};

/* ---- config.json (its keys read with hf_keys.c's readers, tl_hf_key_*) ---------------------- */

int tl_hf_arch_handles(const cJSON *root) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    return cJSON_IsString(mt) && strcmp(mt->valuestring, "llama") != 0;
}

tl_status tl_hf_arch_config(const cJSON *root, const char *path, tl_config *c) {
    memset(c, 0, sizeof *c);
    const char *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type")->valuestring;
    int found = 0;
    for (size_t i = 0; i < sizeof hf_types / sizeof *hf_types; i++)
        if (!strcmp(mt, hf_types[i].model_type)) {
            c->arch = hf_types[i].arch;
            found = 1;
        }
    if (!found)
        return tl_errorf(TL_E_UNSUPPORTED,
                         "%s: model_type \"%.64s\" is not supported (tiller reads llama, qwen2, gpt_neox and olmo; "
                         "TinyLlama, SmolLM and Mistral-style dense models are llama)",
                         path, mt);
    const cJSON *rs;
    tl_status s = tl_hf_key_find(root, path, "rope_scaling", &rs);
    if (s) return s;
    if (rs)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: rope_scaling is not supported (must be null or absent)", path);
    if ((s = tl_hf_key_int(root, path, "hidden_size", 1, 0, &c->dim)) ||
        (s = tl_hf_key_int(root, path, "intermediate_size", 1, 0, &c->hidden_dim)) ||
        (s = tl_hf_key_int(root, path, "num_hidden_layers", 1, 0, &c->n_layers)) ||
        (s = tl_hf_key_int(root, path, "num_attention_heads", 1, 0, &c->n_heads)) ||
        (s = tl_hf_key_int(root, path, "vocab_size", 1, 0, &c->vocab_size)) ||
        (s = tl_hf_key_int(root, path, "max_position_embeddings", 0, 2048, &c->seq_len)) ||
        (s = tl_hf_key_int(root, path, "num_key_value_heads", 0, c->n_heads, &c->n_kv_heads)) ||
        (s = tl_hf_key_bool(root, path, "tie_word_embeddings", 0, &c->tied_embeddings)))
        return s;
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim * c->n_heads != c->dim)
        return tl_errorf(TL_E_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path, c->dim,
                         c->n_heads);
    c->rope_layout = TL_ROPE_HALF; /* rotate_half, and no permutation of q/k rows in any format */
    switch (c->arch) {
    case TL_ARCH_GPTNEOX: {
        double pct = 0;
        if ((s = tl_hf_key_num(root, path, "rotary_pct", 0.25, &pct)) ||
            (s = tl_hf_key_float(root, path, "rotary_emb_base", 10000.0f, &c->rope_theta)) ||
            (s = tl_hf_key_float(root, path, "layer_norm_eps", 1e-5f, &c->norm_eps)) ||
            (s = tl_hf_key_want_bool(root, path, "use_parallel_residual", 1)) ||
            (s = tl_hf_key_want_bool(root, path, "attention_bias", 1)) ||
            (s = tl_hf_key_want_str(root, path, "hidden_act", "gelu")))
            return s;
        if (!(pct > 0 && pct <= 1)) return tl_errorf(TL_E_FORMAT, "%s: rotary_pct %g is not in (0, 1]", path, pct);
        c->rope_dims = (int)(c->head_dim * pct); /* HF: int(head_size * rotary_pct) */
        if (c->rope_dims < 2 || (c->rope_dims & 1))
            return tl_errorf(TL_E_UNSUPPORTED, "%s: rotary_pct %g gives %d rotary dims (must be even and >= 2)", path,
                             pct, c->rope_dims);
        if (c->n_kv_heads != c->n_heads)
            return tl_errorf(TL_E_FORMAT, "%s: GPT-NeoX has no grouped-query attention", path);
        break;
    }
    case TL_ARCH_OLMO: {
        double clip = 0;
        if ((s = tl_hf_key_float(root, path, "rope_theta", 10000.0f, &c->rope_theta)) ||
            (s = tl_hf_key_num(root, path, "clip_qkv", 0.0, &clip)) ||
            (s = tl_hf_key_want_bool(root, path, "attention_bias", 0)) ||
            (s = tl_hf_key_want_str(root, path, "hidden_act", "silu")))
            return s;
        if (clip < 0) return tl_errorf(TL_E_FORMAT, "%s: clip_qkv %g is negative", path, clip);
        c->clip_qkv = (float)clip;
        c->norm_eps = 1e-5f; /* OlmoLayerNorm's fixed eps */
        break;
    }
    default: /* qwen2 */
        if ((s = tl_hf_key_float(root, path, "rope_theta", 10000.0f, &c->rope_theta)) ||
            (s = tl_hf_key_float(root, path, "rms_norm_eps", 1e-6f, &c->norm_eps)) ||
            (s = tl_hf_key_want_bool(root, path, "use_sliding_window", 0)) ||
            (s = tl_hf_key_want_str(root, path, "hidden_act", "silu")))
            return s;
        break;
    }
    return tl_config_check(c, path);
}

/* ---- tensor names --------------------------------------------------------------------------- */

void tl_hf_arch_tensor_name(const tl_config *c, const char *gguf, char *buf, size_t cap) {
    int neox = c->arch == TL_ARCH_GPTNEOX;
    const char *suffix = strrchr(gguf, '.'); /* ".weight" or ".bias" */
    if (!suffix) suffix = "";
    if (!strcmp(gguf, "token_embd.weight")) {
        snprintf(buf, cap, neox ? "gpt_neox.embed_in.weight" : "model.embed_tokens.weight");
        return;
    }
    if (!strcmp(gguf, "output.weight")) {
        snprintf(buf, cap, neox ? "embed_out.weight" : "lm_head.weight");
        return;
    }
    if (!strncmp(gguf, "output_norm.", 12)) {
        snprintf(buf, cap, "%s%s", neox ? "gpt_neox.final_layer_norm" : "model.norm", suffix);
        return;
    }
    static const char *map[][3] = {
        /* tiller        gpt_neox                    llama-style (olmo, qwen2) */
        {"attn_norm", "input_layernorm", "input_layernorm"},
        {"attn_qkv", "attention.query_key_value", "?"},
        {"attn_q", "?", "self_attn.q_proj"},
        {"attn_k", "?", "self_attn.k_proj"},
        {"attn_v", "?", "self_attn.v_proj"},
        {"attn_output", "attention.dense", "self_attn.o_proj"},
        {"ffn_norm", "post_attention_layernorm", "post_attention_layernorm"},
        {"ffn_gate", "?", "mlp.gate_proj"},
        {"ffn_up", "mlp.dense_h_to_4h", "mlp.up_proj"},
        {"ffn_down", "mlp.dense_4h_to_h", "mlp.down_proj"},
    };
    int layer = 0, at = 0;
    char kind[32] = "";
    sscanf(gguf, "blk.%d.%n", &layer, &at);
    snprintf(kind, sizeof kind, "%s", gguf + at);
    char *dot = strchr(kind, '.');
    if (dot) *dot = 0;
    const char *hf = kind;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(kind, map[i][0])) hf = map[i][neox ? 1 : 2];
    snprintf(buf, cap, "%s.layers.%d.%s%s", neox ? "gpt_neox" : "model", layer, hf, suffix);
}

int tl_hf_arch_ignorable(const tl_config *c, const char *name) {
    static const char *suffixes[] = {".rotary_emb.inv_freq", ".attention.bias", ".attention.masked_bias"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && !strcmp(name + n - m, suffixes[i]) && (i == 0 || c->arch == TL_ARCH_GPTNEOX)) return 1;
    }
    return c->tied_embeddings && (!strcmp(name, "lm_head.weight") || !strcmp(name, "embed_out.weight"));
}

int tl_hf_arch_fused_qkv(const tl_config *c, const char *gguf) {
    return c->arch == TL_ARCH_GPTNEOX && strstr(gguf, ".attn_qkv.") != NULL;
}

int64_t tl_hf_qkv_row(const tl_config *c, int64_t r) {
    int64_t D = c->head_dim, H = c->n_heads;
    int64_t h = r / (3 * D), j = (r / D) % 3, d = r % D;
    return j * H * D + h * D + d;
}
