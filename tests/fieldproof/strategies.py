"""Hypothesis strategies for wire-format values."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from fieldproof.identity import DeviceKey
from fieldproof.wire import Beacon, ModelRef, Record, Report

DEVICE_KEY = DeviceKey.from_secret(0x5EED_F1E1D)

_name_start = string.ascii_letters + string.digits
_name_rest = _name_start + ":./_-"
names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(_name_start),
    st.text(alphabet=_name_rest, max_size=20),
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@st.composite
def records(draw: st.DrawFn) -> Record:
    kind = draw(st.sampled_from(["v", "vs", "vb", "vd", "s"]))
    return Record(
        name=draw(names),
        unit=draw(st.none() | st.sampled_from(["Cel", "%RH", "count", "V", "A", "/"])),
        value=draw(finite) if kind == "v" else None,
        string_value=draw(st.text(max_size=16)) if kind == "vs" else None,
        bool_value=draw(st.booleans()) if kind == "vb" else None,
        data_value=draw(st.binary(max_size=16)) if kind == "vd" else None,
        sum=draw(finite) if kind == "s" else draw(st.none() | finite),
        time=draw(st.none() | times),
    )


@st.composite
def reports(draw: st.DrawFn) -> Report:
    start = draw(st.integers(min_value=0, max_value=2**40))
    return Report(
        device_id=DEVICE_KEY.device_id,
        seq=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        start=start,
        end=start + draw(st.integers(min_value=0, max_value=86_400)),
        records=tuple(draw(st.lists(records(), max_size=12))),
        model=draw(
            st.none()
            | st.builds(
                ModelRef,
                st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12),
                st.binary(min_size=8, max_size=8),
            )
        ),
        # Without a beacon a report is version 1, with one version 2: both travel.
        beacon=draw(st.none() | beacons()),
    )


def beacons() -> st.SearchStrategy[Beacon]:
    return st.builds(
        Beacon,
        st.integers(min_value=0, max_value=2**63 - 1),
        st.binary(min_size=32, max_size=32),
    )
