"""The PyTensor internals this project reaches into, all in one place, with a check for each.

PyTensor's public API builds a graph, compiles it into a function and calls the function. These things
here need more than that, and every one goes through this module:

- data-parallel training (:mod:`lmkit.devices`) runs a JAX-mode function's program once per device under
  ``shard_map``: it needs the function's jitted JAX program (``fn.vm.jit_fn``), the number of dimensions of
  its graph's inputs and outputs (``fn.maker.fgraph``), which inputs are shared variables
  (``fn.maker.inputs[i].implicit``) and their storage (``fn.input_storage``), and a way to put another
  program in the place of the function's own (``fn.vm``);
- the trainer passes JAX arrays already placed on devices straight through, which needs the function's
  input checks switched off (``fn.trust_input``);
- tests look at the nodes of a compiled graph (``fn.maker.fgraph.apply_nodes``) and at the program XLA
  compiles for several devices (the inputs it takes: ``fn.input_storage``);
- two changes to PyTensor's JAX translations, made whenever JAX mode is chosen: ``Scan`` runs
  :func:`prefetching_scan` (through the module global ``pytensor.link.jax.dispatch.scan.jax_scan``) and
  ``CAReduce`` returns its declared dtype (:func:`fix_jax_reduction_dtype`).

These are attributes of PyTensor 3.0.7, not promises. :data:`REQUIRED` lists them, and
``tests/test_pytensor_internals.py`` compiles a function in the C and the JAX backends and fails, naming
the attribute, when an upgrade has moved one of them.
"""

# Attribute paths every compiled function must have, and those of a JAX-mode function only.
REQUIRED = ("maker.fgraph.inputs", "maker.fgraph.outputs", "maker.fgraph.apply_nodes", "maker.inputs",
            "maker.linker", "input_storage", "trust_input", "vm")
REQUIRED_JAX = ("vm.jit_fn", "vm.inputs", "vm.outputs", "vm.storage_map", "vm.allow_gc")


def missing(fn):
    """The attribute paths of :data:`REQUIRED` (and, in JAX mode, :data:`REQUIRED_JAX`) that ``fn`` lacks."""
    jax = type(getattr(getattr(fn, "maker", None), "linker", None)).__name__ == "JAXLinker"
    paths = REQUIRED + (REQUIRED_JAX if jax else ())
    gone = []
    for path in paths:
        obj = fn
        for name in path.split("."):
            if not hasattr(obj, name):
                gone.append(path)
                break
            obj = getattr(obj, name)
    return gone


def apply_nodes(fn):
    """The nodes of ``fn``'s compiled graph."""
    return list(fn.maker.fgraph.apply_nodes)


def jax_program(fn):
    """The jitted JAX program of a JAX-mode function: it takes every input of the graph (shared variables
    included, in graph order) and returns every output (updates included)."""
    thunk = fn.vm
    if not hasattr(thunk, "jit_fn"):
        raise TypeError("a JAX program exists only in a function compiled in JAX mode")
    return thunk.jit_fn


def graph_ndims(fn):
    """``(input ndims, output ndims)`` of ``fn``'s graph, in the order its program takes and returns them."""
    fgraph = fn.maker.fgraph
    return [v.type.ndim for v in fgraph.inputs], [v.type.ndim for v in fgraph.outputs]


def shared_inputs(fn):
    """For every input of the graph, whether it is a shared variable (an implicit input)."""
    return [spec.implicit for spec in fn.maker.inputs]


def shared_storage(fn):
    """The storage cells (one-element lists) of the shared variables ``fn`` reads: the variables' own."""
    return [container.storage for container, spec in zip(fn.input_storage, fn.maker.inputs) if spec.implicit]


def input_values(fn, explicit):
    """Every input of the graph as ``fn``'s program takes it: the shared variables' current values, and the
    values of ``explicit`` (an iterable, in order) for the others (to lower the program: tests/test_devices.py)."""
    explicit = iter(explicit)
    return [container.storage[0] if spec.implicit else next(explicit)
            for container, spec in zip(fn.input_storage, fn.maker.inputs)]


class _ProgramThunk:
    """Stands in for a JAX-mode function's thunk: the same storage, another program."""

    lazy = False

    def __init__(self, thunk, program):
        self.inputs, self.outputs = thunk.inputs, thunk.outputs
        self.allow_gc, self.storage_map = thunk.allow_gc, thunk.storage_map
        self.jit_fn = program

    def __call__(self):
        for storage, value in zip(self.outputs, self.jit_fn(*(cell[0] for cell in self.inputs))):
            storage[0] = value


def replace_program(fn, program):
    """Make the JAX-mode function ``fn`` run ``program`` (same inputs and outputs as :func:`jax_program`'s)
    in place of its own; calling ``fn`` works as before, updates included."""
    jax_program(fn)  # a JAX-mode function, or TypeError
    fn.vm = _ProgramThunk(fn.vm, program)
    return fn


def trust_inputs(fn):
    """Switch off ``fn``'s input checks, which would copy JAX arrays already on their devices back to numpy:
    the caller gives every input its exact dtype and shape."""
    fn.trust_input = True
    return fn


_scan_unroll = 1


def set_jax_scan_unroll(unroll):
    """Make every ``scan`` compiled from now on in JAX mode call ``jax.lax.scan`` with ``unroll`` (1: as
    PyTensor does). For measuring whether unrolling pays (``benchmarks/bench.py --scan-unroll``)."""
    global _scan_unroll
    install_jax_scan()
    _scan_unroll = 1 if unroll is None else int(unroll)


def prefetching_scan(f, init, xs=None, length=None, reverse=False, unroll=1, **kwargs):
    """``jax.lax.scan(f, init, xs, ...)`` with the same results, each step's slices of ``xs`` read one step
    ahead into the carry.

    ``lax.scan`` hands step t its slices ``xs[t]`` through a dynamic slice, which XLA fuses into the step's
    element-wise work; on the CPU, XLA 0.10's loop emitter does not vectorise a fusion that reads through a
    dynamic slice. Here step t reads slices loaded by step t - 1 into the carry (a plain buffer), and loads
    ``xs[t + 1]`` for the next step, a copy of its own. Measured on one core (``benchmarks/scan_inputs.py``:
    an LSTM layer's gate arithmetic on 4 x 128 x 32 values per step, medians): 71 us per step with
    ``lax.scan``, 24 us with this, 16 us when nothing is sliced; with the recurrent product ``W s`` in the
    step, 179 and 113 us (fastest calls 124 and 76). PyTensor's backward pass is a second ``Scan``, which
    reads its inputs this way too (JAX's own gradient of this function gains nothing: it builds its own loop).
    Used on the CPU only: on a GPU the extra copy would be one more kernel launch per step.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    leaves = jax.tree_util.tree_leaves(xs)
    steps = length if length is not None else (leaves[0].shape[0] if leaves else None)
    if reverse or not leaves or not steps or jax.default_backend() != "cpu":
        return lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll, **kwargs)

    def step(carry, _):
        inner, current, t = carry
        following = jax.tree_util.tree_map(   # xs[t + 1] (xs[T - 1] again at the last step, unused)
            lambda x: lax.dynamic_index_in_dim(x, jnp.minimum(t + 1, steps - 1), keepdims=False), xs)
        inner, out = f(inner, current)
        return (inner, following, t + 1), out

    first = jax.tree_util.tree_map(lambda x: x[0], xs)
    (final, _, _), outs = lax.scan(step, (init, first, jnp.int32(0)), None, length=steps, unroll=unroll, **kwargs)
    return final, outs


def install_jax_scan():
    """Make PyTensor's JAX translation of ``Scan`` run :func:`prefetching_scan` (with the unroll of
    :func:`set_jax_scan_unroll`) in place of ``jax.lax.scan`` (once per process; called by
    :func:`lmkit.backend.pytensor_mode` whenever JAX is chosen). PyTensor's translation calls ``lax.scan``
    through the module global ``jax_scan`` of ``pytensor.link.jax.dispatch.scan``; this replaces it."""
    from pytensor.link.jax.dispatch import scan as dispatch

    if getattr(dispatch.jax_scan, "__wrapped_scan__", None) is not None:
        return

    def jax_scan(f, init, xs=None, length=None, **kwargs):
        return prefetching_scan(f, init, xs, length=length, unroll=_scan_unroll, **kwargs)

    jax_scan.__wrapped_scan__ = dispatch.jax_scan
    dispatch.jax_scan = jax_scan


_reductions_fixed = False


def fix_jax_reduction_dtype():
    """Make PyTensor's JAX reductions return the dtype their graph says (once per process; called by
    :func:`lmkit.backend.pytensor_mode` whenever JAX is chosen).

    PyTensor 3.0.7's JAX translation of ``CAReduce`` (``pytensor.link.jax.dispatch.elemwise``) casts a sum to
    its accumulator dtype, float64 for float32 input, instead of to its output dtype. With x64 on (floatX
    float64), a float32 graph then gets float64 values where it declared float32: a ``scan`` whose backward
    step sums (a softmax's gradient, a bias broadcast over a batch) fails JAX's carry check, and an update
    made from such a sum turns a float32 weight into float64. This wraps the registered translation to cast
    the result to the node's output dtype, as the C backend does. With x64 off (floatX float32) JAX cannot
    make the float64 detour at all and warns that it truncates it to float32; that warning, raised once per
    reduction when the program is traced, is silenced here, since the result is cast to float32 anyway.
    """
    global _reductions_fixed
    if _reductions_fixed:
        return
    import warnings

    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    original = jax_funcify.dispatch(CAReduce)

    def careduce_in_output_dtype(op, node=None, **kwargs):
        reduce = original(op, node=node, **kwargs)
        if node is None:
            return reduce
        dtype = node.outputs[0].dtype

        def careduce(x):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Explicitly requested dtype float64", category=UserWarning)
                return reduce(x).astype(dtype)

        return careduce

    jax_funcify.register(CAReduce)(careduce_in_output_dtype)
    _reductions_fixed = True
