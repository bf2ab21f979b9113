"""Temporal Difference Convolution against a brute-force evaluation of Eq. (1) of the AutoHR paper."""

import itertools

import pytest
import torch
from rppgbench_plugins.autohr.tdc import TemporalDifferenceConv3d

from rppgbench.errors import ConfigError


def brute_force_tdc(x, weight, bias, theta, stride, padding):
    """Eq. (1) tap by tap: off-centre temporal taps see I(neighbour) - theta * I(centre)."""
    kt, kh, kw = weight.shape[2:]
    st, sh, sw = stride
    pt, ph, pw = padding
    xp = torch.nn.functional.pad(x, (pw, pw, ph, ph, pt, pt))
    n, _, tp, hp, wp = xp.shape
    to, ho, wo = (tp - kt) // st + 1, (hp - kh) // sh + 1, (wp - kw) // sw + 1

    def window(dt, dh, dw):  # input at tap (dt, dh, dw) for every output position: (N, Cin, To, Ho, Wo)
        return xp[:, :, dt : dt + st * (to - 1) + 1 : st, dh : dh + sh * (ho - 1) + 1 : sh,
                  dw : dw + sw * (wo - 1) + 1 : sw]  # fmt: skip

    centre = window(kt // 2, kh // 2, kw // 2)
    out = torch.zeros(n, weight.shape[0], to, ho, wo, dtype=x.dtype)
    for dt, dh, dw in itertools.product(range(kt), range(kh), range(kw)):
        value = window(dt, dh, dw)
        if dt != kt // 2:
            value = value - theta * centre
        out += torch.einsum("oc,nctij->notij", weight[:, :, dt, dh, dw], value)
    if bias is not None:
        out += bias[None, :, None, None, None]
    return out


@pytest.mark.parametrize("kt", [3, 5])
@pytest.mark.parametrize("theta", [0.0, 0.2, 0.7, 1.0])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("bias", [False, True])
def test_tdc_matches_equation_1(kt, theta, stride, bias):
    torch.manual_seed(kt * 100 + int(theta * 10) + stride)
    conv = TemporalDifferenceConv3d(3, 4, (kt, 3, 3), stride=stride, theta=theta, bias=bias).double()
    x = torch.randn(2, 3, 11, 9, 8, dtype=torch.float64)
    expected = brute_force_tdc(
        x, conv.weight.detach(), conv.conv.bias.detach() if bias else None, theta,
        (stride,) * 3, (kt // 2, 1, 1),
    )  # fmt: skip
    got = conv(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_kernel_5_difference_uses_all_four_off_centre_slices():
    conv = TemporalDifferenceConv3d(1, 1, (5, 1, 1), theta=1.0)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0]).view(1, 1, 5, 1, 1))
    assert conv.difference_kernel().item() == pytest.approx(1 + 2 + 8 + 16)


def test_theta_zero_is_plain_conv3d_and_constant_input_cancels_at_theta_one():
    torch.manual_seed(0)
    conv = TemporalDifferenceConv3d(2, 3, 3, theta=0.0)
    x = torch.randn(1, 2, 6, 5, 5)
    torch.testing.assert_close(conv(x), conv.conv(x))
    # theta = 1 on a temporally constant input (away from the borders): the off-centre taps see I - I = 0
    # where the spatial neighbourhood is uniform too, so only the centre slice contributes.
    tdc = TemporalDifferenceConv3d(1, 1, (3, 1, 1), theta=1.0)
    flat = torch.full((1, 1, 7, 2, 2), 3.0)
    interior = tdc(flat)[:, :, 1:-1]
    expected = 3.0 * tdc.weight[0, 0, 1].sum()
    torch.testing.assert_close(interior, torch.full_like(interior, expected.item()))


def test_general_stride_and_padding_match_brute_force():
    torch.manual_seed(3)
    conv = TemporalDifferenceConv3d(4, 4, (3, 3, 3), stride=(2, 1, 2), padding=(2, 0, 1), theta=0.5)
    conv = conv.double()
    x = torch.randn(1, 4, 9, 8, 8, dtype=torch.float64)
    expected = brute_force_tdc_padded(x, conv)
    torch.testing.assert_close(conv(x), expected, rtol=1e-10, atol=1e-10)


def brute_force_tdc_padded(x, conv):
    """Eq. (1) with arbitrary zero padding: the centre value is read from the padded input too."""
    return brute_force_tdc(x, conv.weight.detach(), None, conv.theta, conv.conv.stride, conv.conv.padding)


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError):
        TemporalDifferenceConv3d(1, 1, (2, 3, 3))
    with pytest.raises(ConfigError):
        TemporalDifferenceConv3d(1, 1, 3, theta=1.5)
