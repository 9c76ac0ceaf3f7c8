"""Sinkhorn-Knopp: marginals, equivalence with SwAV's reference, numerical safety."""

import pytest
import torch
import torch.nn.functional as F

from seer.trainer.swav import sinkhorn, sinkhorn_reference


def _cosine_scores(n: int, k: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, 16, generator=g), dim=1) @ F.normalize(torch.randn(k, 16, generator=g), dim=1).t()


def test_rows_sum_to_one_and_prototypes_share_the_mass_equally() -> None:
    q = sinkhorn(_cosine_scores(300, 20), epsilon=0.05, iterations=50)
    torch.testing.assert_close(q.sum(1), torch.ones(300))
    torch.testing.assert_close(q.sum(0), torch.full((20,), 300 / 20), rtol=1e-3, atol=1e-3)


def test_prototype_marginals_tighten_with_iterations() -> None:
    s = _cosine_scores(200, 30)
    err = [(sinkhorn(s, epsilon=0.05, iterations=i).sum(0) - 200 / 30).abs().max().item() for i in (1, 3, 20)]
    assert err[0] > err[1] > err[2]


@pytest.mark.parametrize("iterations", [0, 1, 3, 10])
def test_matches_swav_reference(iterations: int) -> None:
    s = _cosine_scores(257, 40)
    torch.testing.assert_close(
        sinkhorn(s, epsilon=0.05, iterations=iterations), sinkhorn_reference(s, epsilon=0.05, iterations=iterations)
    )


def test_last_rows_returns_the_tail_of_the_full_result_and_leaves_input_alone() -> None:
    s = _cosine_scores(100, 12)
    before = s.clone()
    full = sinkhorn(s, epsilon=0.05, iterations=3)
    tail = sinkhorn(s, epsilon=0.05, iterations=3, last_rows=7)
    torch.testing.assert_close(tail, full[-7:])
    assert torch.equal(s, before)


def test_inplace_uses_the_buffer_and_gives_the_same_codes() -> None:
    s = _cosine_scores(64, 10)
    ws = s.clone()
    q = sinkhorn(ws, epsilon=0.05, iterations=3, last_rows=8, inplace=True)
    assert q.data_ptr() == ws[-8:].data_ptr()
    torch.testing.assert_close(q, sinkhorn(s, epsilon=0.05, iterations=3, last_rows=8))


def test_large_scores_do_not_overflow_where_the_reference_does() -> None:
    s = _cosine_scores(50, 8) + 5.0  # scores / eps up to 120: exp overflows float32
    assert not torch.isfinite(sinkhorn_reference(s, epsilon=0.05, iterations=3)).all()
    q = sinkhorn(s, epsilon=0.05, iterations=3)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(1), torch.ones(50))


def test_bf16_scores_are_processed_in_float32() -> None:
    q = sinkhorn(_cosine_scores(32, 8).bfloat16(), epsilon=0.05, iterations=3)
    assert q.dtype == torch.float32


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="last_rows"):
        sinkhorn(torch.zeros(4, 3), epsilon=0.05, iterations=3, last_rows=5)
    with pytest.raises(ValueError, match="float32"):
        sinkhorn(torch.zeros(4, 3, dtype=torch.float64), epsilon=0.05, iterations=3, inplace=True)


def test_a_small_epsilon_does_not_underflow_a_distant_sample() -> None:
    """Cosine scores span [-1, 1]. With epsilon 0.015 a plain max shift sends a sample
    whose scores are all near -1 (while another sample scores 1) to exp(-133) = 0 in
    fp32: an all-zero row and NaN codes. The lifted shift keeps it finite and exact."""
    s = _cosine_scores(64, 20)
    s[0] = -0.99 + 0.01 * _cosine_scores(1, 20, seed=1)[0]
    s[1, 0] = 1.0
    codes = sinkhorn(s, epsilon=0.015, iterations=3)
    assert torch.isfinite(codes).all()
    torch.testing.assert_close(codes.sum(1), torch.ones(64))
    # Same codes as SwAV's algorithm computed in float64, which has the range to need no shift.
    q = torch.exp(s.double() / 0.015).t()
    q /= q.sum()
    for _ in range(3):
        q /= q.sum(dim=1, keepdim=True) * q.shape[0]
        q /= q.sum(dim=0, keepdim=True) * q.shape[1]
    torch.testing.assert_close(codes.double(), (q * q.shape[1]).t(), rtol=1e-4, atol=1e-6)
