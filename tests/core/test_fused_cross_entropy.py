import torch
import torch.nn.functional as F

from genrec_bench.modules import fused_linear_cross_entropy


def test_values_and_gradients_equal_the_plain_cross_entropy():
    torch.manual_seed(0)
    h = torch.randn(301, 16, dtype=torch.float64, requires_grad=True)
    w = (0.3 * torch.randn(97, 16, dtype=torch.float64)).requires_grad_()
    y = torch.randint(0, 97, (301,))
    ref = F.cross_entropy(h @ w.T, y)
    ref_grads = torch.autograd.grad(2.5 * ref, [h, w])
    out = fused_linear_cross_entropy(h, w, y, chunk_size=64)
    grads = torch.autograd.grad(2.5 * out, [h, w])
    torch.testing.assert_close(out, ref)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)
