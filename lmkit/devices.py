"""Data-parallel training on several JAX devices: the batch split over a one-axis mesh, one program per device.

The batched trainer's compiled PyTensor functions are ``jax.jit`` programs in JAX mode. With N devices
(:class:`Placement`, a ``Mesh`` of N devices with one axis, ``"batch"``):

- every per-batch input (the ``(T, B)`` words, masks and resets, the ``(H, B)`` carried states, the
  ``(T, width, B)`` dropout masks: the batch is always the **last** axis) is split over the devices,
  ``B/N`` streams each;
- every shared variable (parameters, optimizer state) is replicated on all of them;
- the trainer's graph is built for one device's ``B/N`` streams, with :func:`all_reduce` (``lax.psum`` over
  the mesh, an XLA all-reduce) on the word count, the summed cost and the gradients, so the clipping norm
  and the update are those of the whole batch and every device applies the same update to its copy;
- :meth:`Placement.run_per_device` runs that program under ``jax.shard_map``, in place of the compiled
  function's own jitted program, so each device runs it on its own block of streams.

Why ``shard_map`` and not XLA's automatic partitioning of the whole-batch program (which also works, and
was tried first): the models flatten ``(T, B, H)`` states to ``(T*B, H)`` rows for the output layer, and
a reshape that merges a split minor axis cannot stay split, so the partitioner gathered the whole batch on
every device and each one ran the full output layer (about 80% of the FLOPs in the main command) for all
streams: two forced host devices ran at half the speed of one. Per-device programs have nothing to gather;
the only communication is the all-reduce.

The arithmetic is the one-device step's with the sums split in N parts, so results agree to float32
rounding. One device takes the same path, with a mesh of one (by default JAX's default device, so
``jax.default_device(...)`` still chooses it). On a CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
(set before JAX starts) makes N host devices out of one CPU: useful to test the sharded path, but the
devices share the same cores, so it shows overheads, not speed-ups (``benchmarks/devices_scaling.py``).
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from . import pytensor_internals as internals

AXIS = "batch"


def count(devices):
    """How many devices ``devices`` (an int, ``"all"``, ``None`` or a list of devices) asks for."""
    if devices is None:
        return 1
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if devices == "all":
        import jax

        return len(jax.devices())
    return int(devices)


def default_device():
    """JAX's default device: the one ``jax.default_device(...)`` or ``jax_default_device`` names, else the first."""
    import jax

    chosen = jax.config.jax_default_device
    if chosen is None:
        return jax.devices()[0]
    if isinstance(chosen, str):
        return jax.devices(chosen)[0]
    return chosen


def resolve(devices=None):
    """The list of JAX devices for ``devices``: ``None`` or 1 (the default device), N (the first N of
    ``jax.devices()``), ``"all"``, or a list of devices as given. ``ValueError`` if there are too few."""
    import jax

    if isinstance(devices, (list, tuple)):
        if not devices:
            raise ValueError("an empty list of devices")
        return list(devices)
    if devices is None or devices == 1:
        return [default_device()]
    available = jax.devices()
    if devices == "all":
        return list(available)
    n = int(devices)
    if n > len(available):
        raise ValueError(f"{n} devices asked for, {len(available)} {available[0].platform} device(s) here")
    return list(available[:n])


def check(devices, batch_size, mode):
    """``ValueError`` for a device count that cannot work: several devices outside JAX mode, or a batch that
    does not split evenly. Returns the number of devices."""
    n = count(devices)
    if n > 1 and mode != "JAX":
        raise ValueError(f"{n} devices need JAX mode, not {mode}")
    if batch_size % n:
        raise ValueError(f"a batch of {batch_size} does not split over {n} devices")
    return n


class AllReduceSum(Op):
    """``x`` summed over the devices of the mesh axis ``axis`` (``jax.lax.psum``, an XLA all-reduce).

    Only meaningful inside :meth:`Placement.run_per_device`; outside JAX (one process, one device) it is the
    identity. Its gradient is the all-reduce of the output gradient.
    """

    __props__ = ("axis",)

    def __init__(self, axis=AXIS):
        self.axis = axis

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.array(inputs[0], copy=True)

    def infer_shape(self, fgraph, node, shapes):
        return shapes

    def grad(self, inputs, output_grads):
        return [type(self)(self.axis)(output_grads[0])]


_registered = False


def _register_jax():
    global _registered
    if _registered:
        return
    import jax
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(AllReduceSum)
    def jax_funcify_AllReduceSum(op, **kwargs):
        axis = op.axis

        def all_reduce_sum(x):
            return jax.lax.psum(x, axis)

        return all_reduce_sum

    _registered = True


class Placement:
    """A one-axis mesh over ``devices``, where inputs go on it, and the per-device programs (module docstring)."""

    def __init__(self, devices):
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        _register_jax()
        self._jax = jax
        self.devices = list(devices)
        self.mesh = Mesh(np.array(self.devices), (AXIS,))
        self._named, self._spec = NamedSharding, PartitionSpec
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self._by_ndim = {}

    def __len__(self):
        return len(self.devices)

    def all_reduce(self, x):
        """``x`` summed over the devices (symbolic; see :class:`AllReduceSum`)."""
        return AllReduceSum(AXIS)(x)

    def spec(self, ndim, split):
        """The partition of an ``ndim``-array: its last axis over the devices, or replicated."""
        return self._spec(*([None] * (ndim - 1)), AXIS) if split and ndim else self._spec()

    def batch_sharding(self, ndim):
        """The sharding that splits the last of ``ndim`` axes over the devices."""
        if ndim not in self._by_ndim:
            self._by_ndim[ndim] = self._named(self.mesh, self.spec(ndim, True))
        return self._by_ndim[ndim]

    def split(self, array, dtype=None):
        """``array`` with its last (batch) axis split over the devices (a no-op when it already is)."""
        if isinstance(array, self._jax.Array) and (dtype is None or array.dtype == dtype):
            sharding = self.batch_sharding(array.ndim)
            if array.sharding == sharding or array.sharding.is_equivalent_to(sharding, array.ndim):
                return array
        host = np.asarray(array, dtype=dtype)
        return self._jax.device_put(host, self.batch_sharding(host.ndim))

    def replicate(self, value):
        """``value`` on every device (a no-op when it already is)."""
        if isinstance(value, self._jax.Array):
            sharding = value.sharding
            if sharding == self.replicated or sharding.is_equivalent_to(self.replicated, value.ndim):
                return value
        return self._jax.device_put(value, self.replicated)

    def replicate_shared(self, fn):
        """Replicate every shared variable the compiled PyTensor function ``fn`` reads, in its own storage
        (values set from numpy, by ``set_params`` or a checkpoint, are placed here once)."""
        for storage in internals.shared_storage(fn):  # a shared variable's storage is the variable's own
            storage[0] = self.replicate(storage[0])

    def run_per_device(self, fn, split_inputs, split_outputs):
        """Make the JAX-mode PyTensor function ``fn`` run once per device on its block of the batch.

        ``fn`` must have been built for one device's share of the batch. Its first ``split_inputs`` inputs
        and the returned outputs at the positions in ``split_outputs`` have the batch as last axis and are
        split over the devices; every other input (shared variables included) and output (updates
        included) is the same on every device. Calling ``fn`` afterwards works as before, updates included.
        """
        local = internals.jax_program(fn)
        implicit = internals.shared_inputs(fn)
        in_ndims, out_ndims = internals.graph_ndims(fn)
        in_specs = tuple(self.spec(ndim, i < split_inputs and not implicit[i]) for i, ndim in enumerate(in_ndims))
        out_specs = tuple(self.spec(ndim, i in split_outputs) for i, ndim in enumerate(out_ndims))

        def program(*args):
            return tuple(local(*args))

        # The replicated outputs are all-reduced values or computed from them alone, so they are the same on
        # every device; JAX's own check of that (check_vma) cannot follow PyTensor's scans, which start their
        # gradient sums from zeros (the same everywhere) and add per-device terms to them.
        mapped = self._jax.shard_map(program, mesh=self.mesh, in_specs=in_specs, out_specs=out_specs,
                                     check_vma=False)
        return internals.replace_program(fn, self._jax.jit(mapped))
