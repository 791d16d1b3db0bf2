"""Every op and layer on the strict device (GPU-like host boundary, numpy math)
equals the CPU: outputs, input gradients and parameter gradients."""

import pytest
from device_cases import CASES, Case, R, check

import tinyseq as ts


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_case_on_strict_device_matches_cpu(case, dtype):
    check(case, "strict", dtype)


def test_check_catches_a_device_difference():
    # An "op" whose result depends on the device must fail the comparison.
    def device_dependent(a):
        return a * (2.0 if a.device == "cpu" else 2.5)

    with pytest.raises(AssertionError, match="device_dependent output 0: .* elements differ"):
        check(Case("device_dependent", [R(3)], device_dependent), "strict")


def test_check_catches_an_output_left_on_the_host():
    def leaks_to_cpu(a):
        return a.cpu() * 2.0

    with pytest.raises(AssertionError, match="leaks_to_cpu: output on cpu, expected strict"):
        check(Case("leaks_to_cpu", [R(3)], leaks_to_cpu), "strict")


def test_cases_cover_the_public_ops():
    names = " ".join(c.name for c in CASES)
    for op in ("matmul", "cross_entropy", "getitem", "cat", "softmax", "logsumexp", "embedding", "where"):
        assert op in names
    if hasattr(ts.nn, "LSTM"):
        assert "LSTM_lengths_bidir" in names
