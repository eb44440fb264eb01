/* hf_keys.c: the one set of Hugging Face config.json key readers, for llama (safetensors.c's
 * codec) and the other architectures (hf_arch.c) alike: a repeated key refused, types and
 * ranges checked, messages naming the file and the key. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "format.h"

/* "a string", "a number", ...: what a JSON value is, for messages. */
const char *tl_json_type(const cJSON *j) {
    if (!j) return "nothing";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "an unknown value";
}

/* The item for key, NULL when absent or JSON null; an error when the key repeats (JSON
 * readers disagree on which copy wins). */
tl_status tl_hf_key_find(const cJSON *root, const char *path, const char *key, const cJSON **out) {
    *out = NULL;
    int count = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) if (it->string && !strcmp(it->string, key)) {
        count++;
        *out = it;
    }
    if (count > 1) return tl_errorf(TL_E_FORMAT, "%s: key '%s' appears %d times", path, key, count);
    if (*out && cJSON_IsNull(*out)) *out = NULL;
    return TL_OK;
}

tl_status tl_hf_key_int(const cJSON *root, const char *path, const char *key, int required, int def,
                         int *out) {
    const cJSON *it;
    tl_status s = tl_hf_key_find(root, path, key, &it);
    if (s) return s;
    if (!it) {
        if (required) return tl_errorf(TL_E_FORMAT, "%s: required key '%s' is missing", path, key);
        *out = def;
        return TL_OK;
    }
    if (!cJSON_IsNumber(it))
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' must be an integer, got %s", path, key,
                         tl_json_type(it));
    double d = it->valuedouble;
    if (d != floor(d) || !(d >= 1.0) || d > (double)INT_MAX)
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' = %g is not a positive 32-bit integer", path, key,
                         d);
    *out = (int)d;
    return TL_OK;
}

tl_status tl_hf_key_float(const cJSON *root, const char *path, const char *key, float def,
                           float *out) {
    const cJSON *it;
    tl_status s = tl_hf_key_find(root, path, key, &it);
    if (s) return s;
    if (!it) {
        *out = def;
        return TL_OK;
    }
    if (!cJSON_IsNumber(it))
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' must be a number, got %s", path, key,
                         tl_json_type(it));
    double d = it->valuedouble;
    if (!(d > 0.0) || d > FLT_MAX)
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' = %g is not a positive finite float", path, key, d);
    *out = (float)d;
    return TL_OK;
}

tl_status tl_hf_key_bool(const cJSON *root, const char *path, const char *key, int def, int *out) {
    const cJSON *it;
    tl_status s = tl_hf_key_find(root, path, key, &it);
    if (s) return s;
    if (!it) {
        *out = def;
        return TL_OK;
    }
    if (!cJSON_IsBool(it))
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' must be true or false, got %s", path, key,
                         tl_json_type(it));
    *out = cJSON_IsTrue(it);
    return TL_OK;
}

tl_status tl_hf_key_num(const cJSON *root, const char *path, const char *key, double def, double *out) {
    const cJSON *it;
    tl_status s = tl_hf_key_find(root, path, key, &it);
    if (s) return s;
    if (!it) {
        *out = def;
        return TL_OK;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' must be a number, got %s", path, key, tl_json_type(it));
    *out = it->valuedouble;
    return TL_OK;
}

tl_status tl_hf_key_want_str(const cJSON *root, const char *path, const char *key, const char *want) {
    const cJSON *it;
    tl_status s = tl_hf_key_find(root, path, key, &it);
    if (s || !it) return s;
    if (!cJSON_IsString(it))
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' must be a string, got %s", path, key, tl_json_type(it));
    if (strcmp(it->valuestring, want))
        return tl_errorf(TL_E_UNSUPPORTED, "%s: %s = \"%.64s\" is not supported (only \"%s\")", path, key,
                         it->valuestring, want);
    return TL_OK;
}

tl_status tl_hf_key_want_bool(const cJSON *root, const char *path, const char *key, int want) {
    int b;
    tl_status s = tl_hf_key_bool(root, path, key, want, &b);
    if (!s && b != want)
        s = tl_errorf(TL_E_UNSUPPORTED, "%s: %s = %s is not supported", path, key, b ? "true" : "false");
    return s;
}
