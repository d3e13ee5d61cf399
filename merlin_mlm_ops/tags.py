"""Schema tags this package writes; importing it imports nothing else (no NVTabular, no compat fixes)."""

#: Tag carried by every mask column, and by nothing else: models find the mask by it.
MASK_TAG = "mlm_mask"
