"""Apply :mod:`merlin_mlm_ops.compat` in every worker of a ``distributed`` cluster.

Worker processes import NVTabular on their own, and the tasks of ``Workflow.fit`` need not
carry an object of this package (whose import applies the compat module), so a job on a
``distributed.Client`` registers the plugin once; workers that join later get it too::

    from merlin_mlm_ops.compat.dask import register
    register(client)
"""
from __future__ import annotations

from distributed import WorkerPlugin

#: The plugin's name on the cluster (registering twice keeps one).
PLUGIN_NAME = "merlin-mlm-ops-compat"


class CompatPlugin(WorkerPlugin):
    """Calls :func:`merlin_mlm_ops.compat.apply` when a worker starts (or at registration)."""

    idempotent = True

    def setup(self, worker=None):
        from merlin_mlm_ops.compat import apply

        apply()


def register(client):
    """Register :class:`CompatPlugin` on ``client``'s cluster; returns ``client``.

    ``client``: a ``distributed.Client``. Idempotent (one plugin named :data:`PLUGIN_NAME`).
    """
    # distributed < 2023.9 (the Merlin 23.08 containers' 2023.1.1) has only register_worker_plugin.
    register_plugin = getattr(client, "register_plugin", None) or client.register_worker_plugin
    register_plugin(CompatPlugin(), name=PLUGIN_NAME)
    return client
