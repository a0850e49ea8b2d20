"""The shared layer every model of the project uses: data, batched training, checkpoints, scoring, sampling.

Importing it changes nothing in the process. The process-wide settings the project runs with (glibc's
allocator for XLA, one BLAS thread, PyTensor's no-BLAS warning silenced) are made by one explicit call,
:func:`lmkit.backend.configure`, which the ``rnnlm`` command, the notebooks and the benchmarks make.
"""
