"""mixed_precision and jit_compile: auto picks the device's fastest exact path: bfloat16
exactly where the training device has bf16 units, XLA only for float32 on a CPU."""

from __future__ import annotations

import pytest

from deepfake.backend import cpu_flags, fastest_path, has_bf16_units, resolve_precision

AVX2 = {"sse4_2", "avx", "avx2", "fma"}  # an AMD EPYC (Zen 3): no bfloat16 units
ZEN4 = AVX2 | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2 | {"avx512f", "amx_tile", "amx_bf16"}


@pytest.mark.parametrize(
    ("flags", "gpu", "bf16"),
    [
        (AVX2, None, False),
        (AVX2 | {"avx512f", "avx512_vnni"}, None, False),  # AVX-512 without its bf16 part
        (ZEN4, None, True),
        (SAPPHIRE_RAPIDS, None, True),
        (AVX2, (8, 0), True),  # A100: the GPU trains, whatever the CPU
        (AVX2, (9, 0), True),  # H100 / H200
        (ZEN4, (7, 0), False),  # V100: no bf16 units on the device that trains
    ],
)
def test_bf16_units_of_the_training_device(flags, gpu, bf16):
    assert has_bf16_units(flags, gpu) is bf16


def test_auto_resolves_on_this_machine_and_booleans_pass_through(tmp_path):
    assert resolve_precision(True) is True and resolve_precision(False) is False
    assert resolve_precision("auto") is has_bf16_units(cpu_flags(), None)  # no GPU here
    with pytest.raises(ValueError, match="auto"):
        resolve_precision("bf16")


@pytest.mark.parametrize(
    ("flags", "gpu", "backend", "path"),
    [
        (AVX2, None, "tensorflow", (False, True)),  # float32 + XLA: 2x float32 alone
        (ZEN4, None, "tensorflow", (True, False)),  # bfloat16 without XLA: XLA halves it
        (SAPPHIRE_RAPIDS, None, "tensorflow", (True, False)),
        (AVX2, None, "jax", (False, False)),  # JAX compiles whatever the setting
        (AVX2, (9, 0), "tensorflow", (True, False)),  # H100: bfloat16, no XLA on TF
    ],
)
def test_auto_takes_the_fastest_exact_path_of_the_device(flags, gpu, backend, path):
    assert fastest_path("auto", "auto", flags, gpu, backend) == path
    # a setting given is kept
    assert fastest_path(False, "auto", flags, gpu, backend)[0] is False
    assert fastest_path("auto", True, flags, gpu, backend)[1] is True
    with pytest.raises(ValueError, match="jit_compile"):
        fastest_path("auto", "xla", flags, gpu, backend)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\nbugs\t\t: none\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


FAULTS = """
import ctypes, resource, sys
from deepfake.backend import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
block = 64 * 2**20  # over glibc's largest mmap threshold (32 MB), as TensorFlow allocates
for i in range(12):
    if i == 2:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = libc.malloc(block)
    ctypes.memset(a, 1, block)  # touches every page
    libc.free(a)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def test_kept_memory_is_not_faulted_in_again_at_every_step():
    """A training step frees and allocates activations of tens of MB: by default each
    allocation maps fresh pages (one fault per 4 KB page); kept, ten steps fault in next
    to nothing."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    def faults(mode: str) -> int:
        env = os.environ | {"PYTHONPATH": str(REPO / "scripts")}
        done = subprocess.run(
            [sys.executable, "-c", FAULTS, mode], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout.strip())

    pages = 10 * 64 * 2**20 // 4096  # ten 64 MB blocks
    assert faults("default") > pages * 0.9
    assert faults("keep") < pages * 0.05
