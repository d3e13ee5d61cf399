"""Schema tags this package writes; importing it imports nothing else (no NVTabular, no compat fixes)."""

#: Tag carried by every mask column, and by nothing else: models find the mask by it.
MASK_TAG = "mlm_mask"

#: Tag of the corrupted input ids column that ``MaskRandom(replace=...)`` writes (80/10/10).
INPUT_TAG = "mlm_input"
