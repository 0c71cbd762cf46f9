"""chaos.units: quantities with units parse to SI floats; bad ones fail with the value and the forms."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from chaos.errors import InputError, UnitError
from chaos.units import format_duration, parse_bandwidth, parse_bytes, parse_duration, parse_rate

GOOD = [
    (parse_duration, "250ms", 0.25), (parse_duration, "30s", 30.0), (parse_duration, "5m", 300.0),
    (parse_duration, "2h", 7200.0), (parse_duration, "1.5d", 129600.0), (parse_duration, "10us", 1e-5),
    (parse_duration, 12, 12.0), (parse_duration, "0", 0.0),
    (parse_bytes, "80GB", 80e9), (parse_bytes, "80GiB", 80 * 2**30), (parse_bytes, "512KiB", 512 * 1024),
    (parse_bandwidth, "400Gbps", 50e9), (parse_bandwidth, "400Gb/s", 50e9), (parse_bandwidth, "900GB/s", 900e9),
    (parse_bandwidth, "3.35TB/s", 3.35e12), (parse_bandwidth, 1e9, 1e9),
    (parse_rate, "20/s", 20.0), (parse_rate, "1200/m", 20.0), (parse_rate, "3/h", 3 / 3600), (parse_rate, 7, 7.0),
]


@pytest.mark.parametrize("parse,text,value", GOOD, ids=[f"{p.__name__}-{t}" for p, t, _ in GOOD])
def test_quantities_parse_to_si(parse, text, value):
    assert parse(text) == pytest.approx(value, rel=1e-12)


BAD = [
    ("minutes-spelled-out", parse_duration, "5 minutes", "duration"),
    ("negative-duration", parse_duration, "-3s", "non-negative"),
    ("boolean", parse_duration, True, "duration"),
    ("bits-for-size", parse_bytes, "80Gb", "size"),
    ("rate-per-fortnight", parse_rate, "3/fortnight", "rate"),
    ("negative-rate", parse_rate, "-3/s", "non-negative"),
    ("bandwidth-without-time", parse_bandwidth, "400Gb", "bandwidth"),
    ("infinite", parse_duration, float("inf"), "finite"),
    ("a-list", parse_rate, [20], "rate"),
]


@pytest.mark.parametrize("parse,value,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_quantities_name_the_value_and_the_forms(parse, value, fragment):
    with pytest.raises(UnitError) as info:
        parse(value)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    assert fragment in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize("seconds,text", [(0.0000123, "12us"), (0.0123, "12.3ms"), (12.3, "12.30s"), (95, "1m35s"),
                                          (119.6, "2m00s"), (3599.7, "1h00m"), (7260, "2h01m"), (math.nan, "n/a")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_a_formatted_minute_never_shows_sixty_seconds(seconds):
    text = format_duration(seconds)
    if "m" in text and "ms" not in text and "h" not in text:
        assert int(text.split("m")[1].rstrip("s")) < 60


def test_input_error_renders_file_line_column_and_field():
    err = InputError("expected an integer but got 'x'", field="engine.block_size", file="s.yaml", line=11, column=15)
    assert str(err) == "s.yaml:11:15: engine.block_size: expected an integer but got 'x'"
    assert str(InputError("bad").located(field="a.b", file="f.yaml", line=3)) == "f.yaml:3: a.b: bad"


# issue #17: what reports print reads back, and schedule files keep their units ---------------------
@pytest.mark.parametrize("text, seconds", [("13m35s", 815.0), ("1h02m", 3720.0), ("1m30.5s", 90.5), ("2h", 7200.0)])
def test_compound_durations_as_reports_print_them(text, seconds):
    from chaos.units import parse_duration
    assert parse_duration(text) == seconds


@given(st.integers(0, 10**6).map(lambda ms: ms / 1000.0))
def test_duration_yaml_reads_back_exactly(seconds):
    from chaos.units import duration_yaml, parse_duration
    assert parse_duration(duration_yaml(seconds)) == pytest.approx(seconds, rel=1e-12, abs=1e-12)


@given(st.integers(0, 100 * 3600).map(float))
def test_format_duration_of_whole_seconds_reads_back(seconds):
    from chaos.units import format_duration, parse_duration
    text = format_duration(seconds)
    if seconds < 3600:      # "1h02m" drops the seconds by design
        assert parse_duration(text) == pytest.approx(seconds, abs=0.01)
