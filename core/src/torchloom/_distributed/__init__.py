"""Distributed data-parallel training: ranks, sharding, cross-rank reductions and the ``ddp`` callback.

Private modules; the public names (``DistributedTrainer``, ``is_main_process``, ``rank0_first``, ...)
are exported by ``torchloom``.
"""
