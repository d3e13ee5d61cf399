"""A merlin-models BERT4Rec for one item-id sequence column (used by the example, tests, benchmarks)."""
from __future__ import annotations


def build_bert4rec(seq_schema, dim=64, heads=2, layers=2, target="item_ids"):
    """An uncompiled ``mm.Model`` (embeddings -> ``mm.BertBlock`` -> softmax over items) and its block.

    Parameters
    ----------
    seq_schema : Schema
        Schema of the sequence input(s); ``target`` must be in it (tagged ITEM_ID, CATEGORICAL).
    dim : int, default 64
        Embedding and hidden size.
    heads, layers : int, default 2, 2
        Attention heads and transformer layers.
    target : str, default "item_ids"
        The item-id column the output layer scores.

    Returns ``(model, bert_block)``; pass the block as ``transformer=`` to the masking ``pre``.
    """
    import merlin.models.tf as mm

    bert = mm.BertBlock(d_model=dim, n_head=heads, n_layer=layers)
    model = mm.Model(
        mm.InputBlockV2(seq_schema, embeddings=mm.Embeddings(seq_schema, sequence_combiner=None, dim=dim)),
        bert,
        mm.CategoricalOutput(seq_schema.select_by_name([target]), default_loss="categorical_crossentropy"),
    )
    return model, bert
