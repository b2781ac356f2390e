/* Attention of one new token per row over a KV cache (float32 or bf16; sums in float32): the
 * rollout's decoding step.
 *
 * Built on first use by mmrft/rollout/decode_attention.py (cc -O3 -march=native, no torch
 * headers) and called through ctypes; see that module's design note for why it exists.
 *
 * Notation: N rows, H query heads, Hkv key/value heads (H = Hkv * group), S cached positions,
 * D head width. Head h reads key/value head h / group, as transformers' repeat_kv does.
 *
 *   q    [N, H, D]        contiguous
 *   k, v [N, Hkv, S, D]   any strides over N, Hkv and S; D contiguous (a view of a larger cache)
 *   keep [N, S] bytes     1 = attend, 0 = masked (left padding); NULL = attend everywhere
 *   out  [N, H, D]        contiguous
 *
 * out[n, h] = sum_s softmax_s(scale * q[n, h] . k[n, h / group, s] + mask) * v[n, h / group, s]
 *
 * One pass over the positions with a running maximum (the "online softmax" of flash
 * attention): each key and its value are read once, together, and no scores are stored.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float from_float(const float *p, int64_t i) { return p[i]; }

static inline float from_bf16(const uint16_t *p, int64_t i) {  /* bf16 = a float's top half */
    const uint32_t bits = (uint32_t)p[i] << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* One kernel per cache element type (T, read by LOAD); q and out are float32 either way. */
#define DECODE_ATTENTION(NAME, T, LOAD)                                                        \
    void NAME(const float *q, const T *k, const T *v, const uint8_t *keep, float *out,          \
              int64_t N, int64_t H, int64_t Hkv, int64_t S, int64_t D, int64_t k_n,             \
              int64_t k_h, int64_t k_s, int64_t v_n, int64_t v_h, int64_t v_s, int64_t keep_n,  \
              int64_t keep_s, float scale, int threads) {                                       \
        const int64_t group = H / Hkv;                                                          \
        _Pragma("omp parallel for num_threads(threads) if (threads > 1) schedule(static)")     \
        for (int64_t nh = 0; nh < N * H; nh++) {                                                \
            const int64_t n = nh / H, h = nh % H;                                               \
            const float *qv = q + nh * D;                                                       \
            const T *kp = k + n * k_n + (h / group) * k_h;                                      \
            const T *vp = v + n * v_n + (h / group) * v_h;                                      \
            const uint8_t *kept = keep ? keep + n * keep_n : 0;                                 \
            float *o = out + nh * D;                                                            \
            float top = -INFINITY, total = 0.f; /* running max, sum of exp(score - top) */      \
            for (int64_t d = 0; d < D; d++) o[d] = 0.f;                                         \
            for (int64_t s = 0; s < S; s++) {                                                   \
                if (kept && !kept[s * keep_s]) continue;                                        \
                const T *ks = kp + s * k_s, *vs = vp + s * v_s;                                 \
                float score = 0.f;                                                              \
                for (int64_t d = 0; d < D; d++) score += qv[d] * LOAD(ks, d);                   \
                score *= scale;                                                                 \
                if (score > top) { /* a new maximum: rescale what was summed against the old */ \
                    const float c = expf(top - score);                                          \
                    total *= c;                                                                 \
                    for (int64_t d = 0; d < D; d++) o[d] *= c;                                  \
                    top = score;                                                                \
                }                                                                               \
                const float w = expf(score - top);                                              \
                total += w;                                                                     \
                for (int64_t d = 0; d < D; d++) o[d] += w * LOAD(vs, d);                        \
            }                                                                                   \
            if (total > 0.f) { /* else nothing was kept: zeros, not NaN */                      \
                const float inv = 1.f / total;                                                  \
                for (int64_t d = 0; d < D; d++) o[d] *= inv;                                    \
            }                                                                                   \
        }                                                                                       \
    }

DECODE_ATTENTION(decode_attention, float, from_float)
DECODE_ATTENTION(decode_attention_bf16, uint16_t, from_bf16)
