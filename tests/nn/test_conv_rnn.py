"""ConvLSTM / ConvGRU: the reference step by hand, gradcheck, lengths, and equivalence with
torch's LSTM and GRU when the kernels are 1×1 on a 1×1 image."""

from __future__ import annotations

import pytest
import torch

from rnnkit.functional.conv_cells import conv_gru_step, conv_lstm_step
from rnnkit.nn import ConvGRU, ConvLSTM


def test_conv_lstm_step_by_hand():
    # One channel in, one hidden channel, a 3×3 kernel on a 1×3 image: every number by hand.
    x = torch.tensor([[[[1.0, 2.0, 3.0]]]])  # (1, 1, 1, 3)
    h = torch.zeros(1, 1, 1, 3)
    c = torch.tensor([[[[0.5, 0.5, 0.5]]]])
    w_ih = torch.zeros(4, 1, 3, 3)
    w_ih[:, 0, 1, 1] = torch.tensor([1.0, 0.0, 1.0, 0.0])  # centre tap: i and g see x
    w_ih[2, 0, 1, 0] = 1.0  # g also sees the left neighbour (0 padded at the border)
    w_hh = torch.zeros(4, 1, 3, 3)
    b = torch.tensor([0.0, 0.0, 0.0, 0.0])
    out, (h1, c1) = conv_lstm_step(x, (h, c), w_ih, w_hh, b, b)
    sig = torch.sigmoid
    xi = torch.tensor([1.0, 2.0, 3.0])
    g = torch.tanh(torch.tensor([1.0 + 0.0, 2.0 + 1.0, 3.0 + 2.0]))
    c_expected = sig(torch.tensor(0.0)) * 0.5 + sig(xi) * g
    h_expected = sig(torch.tensor(0.0)) * torch.tanh(c_expected)
    torch.testing.assert_close(c1.flatten(), c_expected)
    torch.testing.assert_close(h1.flatten(), h_expected)
    torch.testing.assert_close(out, h1)


def test_conv_gru_step_by_hand():
    x = torch.tensor([[[[2.0]]]])
    h = torch.tensor([[[[0.5]]]])
    w_ih = torch.tensor([1.0, -1.0, 0.5]).view(3, 1, 1, 1)
    w_hh = torch.tensor([0.0, 2.0, 4.0]).view(3, 1, 1, 1)
    b_ih = torch.tensor([0.0, 0.0, 0.1])
    b_hh = torch.tensor([0.0, 0.0, -1.0])
    _, (h1,) = conv_gru_step(x, (h,), w_ih, w_hh, b_ih, b_hh)
    r = torch.sigmoid(torch.tensor(2.0))
    z = torch.sigmoid(torch.tensor(-2.0 + 1.0))
    n = torch.tanh(torch.tensor(1.0 + 0.1) + r * (2.0 - 1.0))
    torch.testing.assert_close(h1.flatten(), ((1 - z) * n + z * 0.5).reshape(1))


@pytest.mark.parametrize("cls,torch_cls", [(ConvLSTM, torch.nn.LSTM), (ConvGRU, torch.nn.GRU)])
def test_one_by_one_kernel_on_one_pixel_is_torch_layer(cls, torch_cls):
    torch.manual_seed(0)
    conv = cls(3, 5, kernel_size=1, num_layers=2).double()
    ref = torch_cls(3, 5, num_layers=2).double()
    with torch.no_grad():
        for n in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                src = getattr(conv, f"{name}_l{n}")
                dst = getattr(ref, f"{name}_l{n}")
                dst.copy_(src.reshape(dst.shape))
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    out, state = conv(x[..., None, None])
    out_ref, state_ref = ref(x)
    torch.testing.assert_close(out[..., 0, 0], out_ref)
    if cls is ConvLSTM:
        torch.testing.assert_close(state[0][..., 0, 0], state_ref[0])
        torch.testing.assert_close(state[1][..., 0, 0], state_ref[1])
    else:
        torch.testing.assert_close(state[..., 0, 0], state_ref)


@pytest.mark.parametrize("cls", [ConvLSTM, ConvGRU])
def test_gradcheck(cls):
    torch.manual_seed(1)
    layer = cls(1, 2, kernel_size=3, num_layers=2).double()
    x = torch.randn(3, 2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 2])

    def f(x, *params):
        out, _ = torch.func.functional_call(
            layer,
            dict(zip([n for n, _ in layer.named_parameters()], params, strict=True)),
            (x,),
            {"lengths": lengths},
        )
        return out

    params = tuple(p.detach().clone().requires_grad_(True) for p in layer.parameters())
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("cls", [ConvLSTM, ConvGRU])
def test_padded_equals_unpadded(cls):
    torch.manual_seed(2)
    layer = cls(1, 3, num_layers=2, batch_first=True).double()
    a = torch.randn(1, 5, 1, 6, 6, dtype=torch.float64)
    b = torch.randn(1, 3, 1, 6, 6, dtype=torch.float64)
    padded = torch.cat([a, torch.cat([b, torch.full((1, 2, 1, 6, 6), 7.0).double()], 1)])
    out, state = layer(padded, lengths=torch.tensor([5, 3]))
    out_a, state_a = layer(a)
    out_b, state_b = layer(b)
    torch.testing.assert_close(out[0], out_a[0])
    torch.testing.assert_close(out[1, :3], out_b[0])
    assert out[1, 3:].abs().max().item() == 0.0  # outputs past a length are zero
    states = (state, state_a, state_b) if cls is ConvGRU else (state[1], state_a[1], state_b[1])
    torch.testing.assert_close(states[0][:, 0], states[1][:, 0])
    torch.testing.assert_close(states[0][:, 1], states[2][:, 0])


def test_initial_state_is_used_and_checked():
    torch.manual_seed(3)
    layer = ConvGRU(1, 2, num_layers=1)
    x = torch.randn(2, 1, 1, 4, 4)
    h0 = torch.randn(1, 1, 2, 4, 4)
    out_zero, _ = layer(x)
    out_h0, _ = layer(x, h0)
    assert not torch.allclose(out_zero, out_h0)
    with pytest.raises(ValueError, match=r"hx must be h_0, each of shape \(L, B, K, H, W\)"):
        layer(x, torch.zeros(1, 1, 2, 3, 3))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvLSTM(1, 2, kernel_size=2)
    with pytest.raises(ValueError, match="hidden_channels must be a positive integer, got 0"):
        ConvLSTM(1, 0)
    layer = ConvLSTM(3, 2)
    with pytest.raises(ValueError, match=r"input must be 5-D \(T, B, C, H, W\) with C = "
                       r"in_channels = 3, got shape \(2, 1, 1, 4, 4\)"):
        layer(torch.zeros(2, 1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"lengths must be \(B,\) = \(1,\) integers in \[1, 2\]"):
        layer(torch.zeros(2, 1, 3, 4, 4), lengths=torch.tensor([3]))
