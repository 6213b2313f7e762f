"""Pure readers of /proc and /sys, each taking a root path so tests use a fake tree.

Every reader returns None (or an empty mapping) where the file does not exist: a
Jetson has no NVML, a desktop GPU has no ``gpu.0/load``, a container may hide both.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JETSON_GPU_LOAD = (
    "sys/devices/gpu.0/load",
    "sys/devices/platform/gpu.0/load",
    "sys/devices/platform/17000000.ga10b/load",
    "sys/devices/platform/17000000.gpu/load",
)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _read_number(path: Path) -> float | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def jetson_gpu_load(root: Path) -> float | None:
    """GPU load in percent from the Jetson's ``load`` file (0–1000 = 0–100 %)."""
    for relative in JETSON_GPU_LOAD:
        value = _read_number(root / relative)
        if value is not None:
            return value / 10.0
    return None


def thermal_zones(root: Path) -> dict[str, float]:
    """Temperatures in °C by zone type (``/sys/class/thermal/thermal_zone*/``)."""
    result: dict[str, float] = {}
    base = root / "sys/class/thermal"
    if not base.is_dir():
        return result
    for zone in sorted(base.glob("thermal_zone*")):
        name = _read(zone / "type") or zone.name
        millidegrees = _read_number(zone / "temp")
        if millidegrees is not None:
            result[name] = millidegrees / 1000.0
    return result


def ina3221_power(root: Path) -> dict[str, float]:
    """Rail power in W from Jetson INA3221 monitors (hwmon ``inN_label``/mV/mA files)."""
    result: dict[str, float] = {}
    for hwmon in sorted(root.glob("sys/bus/i2c/drivers/ina3221*/*/hwmon/hwmon*")):
        for label_file in sorted(hwmon.glob("in*_label")):
            channel = label_file.name.removesuffix("_label").removeprefix("in")
            label = _read(label_file)
            millivolts = _read_number(hwmon / f"in{channel}_input")
            milliamps = _read_number(hwmon / f"curr{channel}_input")
            if label and millivolts is not None and milliamps is not None:
                result[label] = millivolts * milliamps / 1e6
    return result


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Aggregate CPU jiffies from ``/proc/stat``."""

    busy: int
    total: int


def cpu_times(root: Path) -> CpuTimes | None:
    text = _read(root / "proc/stat")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
            return CpuTimes(sum(values) - idle, sum(values))
    return None


def cpu_percent(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """Busy share between two samples, in percent."""
    if before is None or after is None or after.total <= before.total:
        return None
    return 100.0 * (after.busy - before.busy) / (after.total - before.total)


@dataclass(frozen=True, slots=True)
class MemoryInfo:
    """Memory in bytes."""

    total: int
    available: int


def memory(root: Path) -> MemoryInfo | None:
    text = _read(root / "proc/meminfo")
    if text is None:
        return None
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[key] = int(parts[0]) * 1024
    if "MemTotal" not in fields:
        return None
    return MemoryInfo(fields["MemTotal"], fields.get("MemAvailable", fields.get("MemFree", 0)))


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Usage of one filesystem in bytes."""

    total: int
    free: int


def disk(path: Path) -> DiskUsage | None:
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return DiskUsage(stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize)


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One discrete GPU through NVML."""

    index: int
    utilisation: float
    temperature_c: float
    memory_used: int
    memory_total: int
    power_w: float | None


def nvml_gpus() -> list[GpuReading]:
    """Discrete NVIDIA GPUs via ``nvidia-ml-py`` when it and a driver are present."""
    try:
        nvml: Any = importlib.import_module("pynvml")
    except ImportError:
        return []
    try:
        nvml.nvmlInit()
    except Exception:  # no driver / no GPU: NVML raises its own error types
        return []
    readings: list[GpuReading] = []
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            temperature = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            try:
                power: float | None = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
            except Exception:
                power = None
            readings.append(
                GpuReading(
                    index,
                    float(rates.gpu),
                    float(temperature),
                    int(mem.used),
                    int(mem.total),
                    power,
                )
            )
    finally:
        nvml.nvmlShutdown()
    return readings
