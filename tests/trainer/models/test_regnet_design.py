"""Design-space generator and analytic complexity reproduce published RegNetY numbers."""

import pytest

from seer.platform.variants import VARIANTS, RegNetDesign
from seer.trainer.models import build_classifier, complexity, describe_variants, stages

PUBLISHED_GFLOPS = {  # pycls model zoo, multiply-adds at 224 px
    "regnety_200mf": 0.2,
    "regnety_400mf": 0.4,
    "regnety_800mf": 0.8,
    "regnety_1.6gf": 1.6,
    "regnety_3.2gf": 3.2,
    "regnety_8gf": 8.0,
    "regnety_16gf": 15.9,
    "regnety_32gf": 32.3,
}


@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.published_params_with_fc])
def test_analytic_params_match_published_within_half_percent(name: str) -> None:
    params = complexity(VARIANTS[name].design).params / 1e6
    assert params == pytest.approx(VARIANTS[name].published_params_with_fc, rel=0.005)


@pytest.mark.parametrize("name", list(PUBLISHED_GFLOPS))
def test_analytic_flops_match_published_names(name: str) -> None:
    assert complexity(VARIANTS[name].design).flops / 1e9 == pytest.approx(PUBLISHED_GFLOPS[name], rel=0.03)


@pytest.mark.parametrize("name", ["regnety_200mf", "regnety_800mf", "regnety_32gf", "regnety_256gf", "regnety_10b"])
def test_built_module_has_exactly_the_analytic_parameter_count(name: str) -> None:
    model = build_classifier(name, device="meta")
    assert sum(p.numel() for p in model.parameters()) == complexity(VARIANTS[name].design).params


def test_seer_256gf_stage_widths_and_depths() -> None:
    specs = stages(VARIANTS["regnety_256gf"].design)
    assert [s.width for s in specs] == [746, 1492, 4103, 10444]
    assert [s.depth for s in specs] == [2, 7, 17, 1]
    assert all(s.width % s.group_width == 0 for s in specs)


def test_group_width_is_clamped_to_narrow_stages() -> None:
    specs = stages(RegNetDesign(depth=4, w0=8, wa=8.0, wm=2.0, group_width=64))
    assert specs[0].width == 8 and specs[0].group_width == 8


def test_invalid_design_is_rejected_with_the_values() -> None:
    with pytest.raises(ValueError, match="w0=12"):
        stages(RegNetDesign(depth=4, w0=12, wa=8.0, wm=2.0, group_width=8))


def test_describe_variants_lists_every_variant_with_its_numbers() -> None:
    rows = describe_variants()
    assert [r["name"] for r in rows] == list(VARIANTS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["regnety_256gf"]["stage_widths"] == [746, 1492, 4103, 10444]
    assert by_name["regnety_256gf"]["params_m"] == pytest.approx(1280, rel=0.005)
    assert by_name["regnety_400mf"]["gflops"] == pytest.approx(0.4, rel=0.03)
    assert set(rows[0]) >= {"name", "params_m", "gflops", "stage_widths", "stage_depths", "group_width", "source"}
