/* Attention of one new token per row over a KV cache, in float32: the rollout's decoding step.
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
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int decode_attention(const float *q, const float *k, const float *v, const uint8_t *keep,
                     float *out, int64_t N, int64_t H, int64_t Hkv, int64_t S, int64_t D,
                     int64_t k_n, int64_t k_h, int64_t k_s, int64_t v_n, int64_t v_h,
                     int64_t v_s, int64_t keep_n, int64_t keep_s, float scale, int threads) {
    const int64_t group = H / Hkv;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
#endif
    for (int64_t nh = 0; nh < N * H; nh++) {
        const int64_t n = nh / H, h = nh % H;
        const float *qv = q + nh * D;
        const float *kp = k + n * k_n + (h / group) * k_h;
        const float *vp = v + n * v_n + (h / group) * v_h;
        const uint8_t *kept = keep ? keep + n * keep_n : NULL;
        float *o = out + nh * D;
        float *p = malloc(S * sizeof(float));  /* the row's scores, then its weights */
        if (!p) {
            failed = 1;
            continue;
        }
        float top = -INFINITY;
        for (int64_t s = 0; s < S; s++) {
            if (kept && !kept[s * keep_s]) {
                p[s] = -INFINITY;
                continue;
            }
            const float *ks = kp + s * k_s;
            float dot = 0.f;
            for (int64_t d = 0; d < D; d++) dot += qv[d] * ks[d];
            p[s] = dot * scale;
            top = p[s] > top ? p[s] : top;
        }
        for (int64_t d = 0; d < D; d++) o[d] = 0.f;
        if (top == -INFINITY) {  /* nothing to attend to: zeros, not NaN */
            free(p);
            continue;
        }
        float total = 0.f;
        for (int64_t s = 0; s < S; s++) {
            p[s] = p[s] == -INFINITY ? 0.f : expf(p[s] - top);  /* softmax, max subtracted */
            total += p[s];
        }
        for (int64_t s = 0; s < S; s++) {
            if (p[s] == 0.f) continue;
            const float *vs = vp + s * v_s;
            const float w = p[s];
            for (int64_t d = 0; d < D; d++) o[d] += w * vs[d];
        }
        const float inv = 1.f / total;
        for (int64_t d = 0; d < D; d++) o[d] *= inv;
        free(p);
    }
    return failed;
}
