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
 *
 * One pass over the positions with a running maximum (the "online softmax" of flash
 * attention): each key and its value are read once, together, and no scores are stored.
 */
#include <math.h>
#include <stdint.h>

void decode_attention(const float *q, const float *k, const float *v, const uint8_t *keep,
                      float *out, int64_t N, int64_t H, int64_t Hkv, int64_t S, int64_t D,
                      int64_t k_n, int64_t k_h, int64_t k_s, int64_t v_n, int64_t v_h,
                      int64_t v_s, int64_t keep_n, int64_t keep_s, float scale, int threads) {
    const int64_t group = H / Hkv;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
#endif
    for (int64_t nh = 0; nh < N * H; nh++) {
        const int64_t n = nh / H, h = nh % H;
        const float *qv = q + nh * D;
        const float *kp = k + n * k_n + (h / group) * k_h;
        const float *vp = v + n * v_n + (h / group) * v_h;
        const uint8_t *kept = keep ? keep + n * keep_n : 0;
        float *o = out + nh * D;
        float top = -INFINITY, total = 0.f;  /* running max of the scores, sum of exp(s - top) */
        for (int64_t d = 0; d < D; d++) o[d] = 0.f;
        for (int64_t s = 0; s < S; s++) {
            if (kept && !kept[s * keep_s]) continue;
            const float *ks = kp + s * k_s, *vs = vp + s * v_s;
            float score = 0.f;
            for (int64_t d = 0; d < D; d++) score += qv[d] * ks[d];
            score *= scale;
            if (score > top) {  /* a new maximum: rescale what was summed against the old one */
                const float c = expf(top - score);
                total *= c;
                for (int64_t d = 0; d < D; d++) o[d] *= c;
                top = score;
            }
            const float w = expf(score - top);
            total += w;
            for (int64_t d = 0; d < D; d++) o[d] += w * vs[d];
        }
        if (total > 0.f) {  /* else nothing was kept: zeros, not NaN */
            const float inv = 1.f / total;
            for (int64_t d = 0; d < D; d++) o[d] *= inv;
        }
    }
}
