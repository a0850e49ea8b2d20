"""``theano.gradient``: the four functions the tutorial's era used, which PyTensor defines as Theano did."""
import pytensor.gradient as pt_gradient

GRADIENT = {name: getattr(pt_gradient, name) for name in ("grad", "grad_clip", "disconnected_grad", "zero_grad")}
