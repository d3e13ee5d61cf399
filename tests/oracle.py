"""A per-row, plain-Python statement of the masking rules: the tests' independent oracle.

It is deliberately written from the rule text (see merlin_mlm_ops.masking.rules), with Python ints,
sorted() and no NumPy, so that it shares no code path with the vectorised reference or the
fused kernels beyond the documented hash formulas.
"""
from merlin_mlm_ops.masking.hashing import GOLDEN, mix64_int, stream_key

MASK64 = (1 << 64) - 1


def content_key(ids, ordinal):
    ids = [int(v) for v in ids]
    total = 0
    for p, v in enumerate(ids):
        total = (total + mix64_int(((v & MASK64) + (p + 1) * GOLDEN) & MASK64)) & MASK64
    return mix64_int((total + mix64_int(((ordinal + 1) * GOLDEN) & MASK64)) & MASK64)


def position_hash(row_key, seed, epoch, p):
    row_hash = mix64_int((row_key & MASK64) ^ stream_key(seed, epoch))
    return mix64_int((row_hash + (p + 1) * GOLDEN) & MASK64)


def mask_row(ids, row_key, seed, epoch, prob, min_masked=1, max_masked=None, pad_id=0):
    """The random mask of one row, as a list of bools."""
    ids = [int(v) for v in ids]
    eligible = [pad_id is None or (v & MASK64) != (pad_id & MASK64) for v in ids]
    hashes = [position_hash(row_key, seed, epoch, p) for p in range(len(ids))]
    threshold = int(prob * (1 << 53))
    n = sum(eligible)
    drawn = sum(1 for e, h in zip(eligible, hashes) if e and (h >> 11) < threshold)
    visible = n - 1 if n >= 2 else n
    lo = min(visible, min_masked)
    hi = visible if max_masked is None else min(visible, max_masked)
    k = min(max(drawn, lo), hi)
    ranked = sorted((h, p) for p, (e, h) in enumerate(zip(eligible, hashes)) if e)
    chosen = {p for _, p in ranked[:k]}
    return [p in chosen for p in range(len(ids))]


def mask_last_row(ids, pad_id=0):
    out = [False] * len(ids)
    for p in range(len(ids) - 1, -1, -1):
        if pad_id is None or ids[p] != pad_id:
            out[p] = True
            break
    return out


# -- last-item rows and 80/10/10 (merlin_mlm_ops.masking.rules, second part) ------------------

def derived_key(seed, epoch, salt):
    return mix64_int(stream_key(seed, epoch) ^ salt)


def takes_last(row_key, seed, epoch, last_ratio, salt):
    """Whether a row takes the last-item mask."""
    return (mix64_int((row_key & MASK64) ^ derived_key(seed, epoch, salt)) >> 11) < int(last_ratio * (1 << 53))


def corrupt_row(ids, mask, is_last, row_key, seed, epoch, replace, salt, pad_id, low=None, high=None, counts=None):
    """The input ids of one row under 80/10/10, as a list of ints (pad_id at [MASK])."""
    row_hash = mix64_int((row_key & MASK64) ^ derived_key(seed, epoch, salt))
    t_mask = int(replace[0] * (1 << 53))
    t_random = int(min(1.0, replace[0] + replace[1]) * (1 << 53))
    out = []
    for p, (v, m) in enumerate(zip(ids, mask)):
        v = int(v)
        if m:
            h = mix64_int((row_hash + (p + 1) * GOLDEN) & MASK64)
            u = h >> 11
            if is_last or u < t_mask:
                v = pad_id
            elif u < t_random:
                g = mix64_int((h + GOLDEN) & MASK64)
                if counts is not None:
                    weights = [0 if i == pad_id else int(c) for i, c in enumerate(counts)]
                    r = g % sum(weights)
                    v, total = 0, 0
                    for i, w in enumerate(weights):
                        total += w
                        if total > r:
                            v = i
                            break
                else:
                    ids_left = [i for i in range(low, high) if i != pad_id]
                    v = ids_left[g % len(ids_left)]
        out.append(v)
    return out
