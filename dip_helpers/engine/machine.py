"""The machine a run computes on: the CPU, its cores and vector extensions, the free RAM and the process's peak memory,
told without any framework (TensorFlow's kernel set is asked of TensorFlow, through the backend, when wanted). What
every CPU timing must name; ``python -m dip_helpers machine`` prints it."""

from __future__ import annotations

import platform
import subprocess

from .. import settings


def _cpuinfo(*keys: str) -> list[str]:
    """The values of the /proc/cpuinfo lines that start with one of ``keys`` (none where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as f:
            return [line.split(":", 1)[1].strip() for line in f if line.startswith(keys) and ":" in line]
    except OSError:
        return []


def _sysctl(name: str) -> str:
    try:
        return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, sysctl on macOS)."""
    names = _cpuinfo("model name")
    if names:
        return names[0]
    darwin = platform.system() == "Darwin" and _sysctl("machdep.cpu.brand_string")
    return darwin or platform.processor() or platform.machine()


#: the vector extensions that decide TensorFlow's CPU kernels, by the names Linux gives their flags
VECTOR_EXTENSIONS = {
    "AVX2": ("avx2",),
    "AVX-512": ("avx512f",),
    "AVX512-VNNI": ("avx512_vnni",),
    "AVX512-BF16": ("avx512_bf16",),
    "AVX-VNNI": ("avx_vnni",),
    "AMX": ("amx_tile", "amx_bf16", "amx_int8"),
    "NEON": ("asimd", "neon"),
}


def cpu_features() -> list[str]:
    """Which of :data:`VECTOR_EXTENSIONS` this CPU has (empty where the system does not say)."""
    flags = {flag for line in _cpuinfo("flags", "Features") for flag in line.lower().split()}  # x86, ARM
    if platform.system() == "Darwin":
        for name in ("machdep.cpu.features", "machdep.cpu.leaf7_features"):  # Intel Macs
            flags.update(f.replace(".", "_") for f in _sysctl(name).lower().split())
        if platform.machine() == "arm64":  # Apple Silicon: NEON is part of the architecture
            flags.add("neon")
    return [name for name, aliases in VECTOR_EXTENSIONS.items() if flags & set(aliases)]


def threads() -> int:
    """The cores this process may use."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ram_available_gb() -> float | None:
    """The RAM available to a new run, in GB (Linux's MemAvailable); None where the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024 / 1e9
    except (OSError, KeyError, ValueError):
        return None


def peak_rss_mb() -> float:
    """The process's peak resident size so far, in MB (0 where the system does not say: Windows)."""
    try:
        import resource  # Unix only
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024


def summary(ask_tensorflow: bool = True) -> dict:
    """The CPU, its cores and vector extensions, and TensorFlow's kernel set (asked only with ``ask_tensorflow``,
    which imports it)."""
    from .backend import onednn_enabled

    setting = settings.get("TF_ENABLE_ONEDNN_OPTS")
    return {
        "cpu": cpu_model(),
        "cores": threads(),
        "cpu_features": cpu_features(),
        "onednn": onednn_enabled() if ask_tensorflow else None,
        "onednn_chosen_by": f"TF_ENABLE_ONEDNN_OPTS={setting}" if setting else "TensorFlow's default for this CPU",
    }
