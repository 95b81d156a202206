"""Keras backend set-up that must happen before ``import keras``.

Thread pools and determinism switches of TensorFlow, JAX and PyTorch are read
from the environment when the framework starts, so :func:`configure` sets the
environment first and only then imports keras (and, for the TensorFlow backend,
applies the same settings through ``tf.config`` in case the runtime honours them
better that way). Nothing here imports keras at module level.

The mixed precision policy is applied per model build with
:func:`dtype_policy`, so that one process can build float32 and mixed models
(the tests do) without a global setting leaking from one to the next.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from deepfake.console import quiet_libraries
from deepfake.threads import cap_environment

log = logging.getLogger(__name__)

MIXED_POLICY = "mixed_bfloat16"
# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep the memory a training step frees, for the next step.

    By default glibc maps every block over 32 MB (an activation tensor of a batch)
    fresh from the kernel and returns it when freed, so each step faults every page
    of its activations in again: a third of a 2-core CPU's time went to the kernel
    (page faults) in config.fast.yaml's training. No mmap'd blocks, no trimming and
    one arena keep the pages: the same training (the same bits) at 321 instead of 234
    images/s. Linux with glibc only; elsewhere nothing changes. Returns whether set.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(
        mallopt(option, value) == 1
        for option, value in ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 1 << 30), (M_ARENA_MAX, 1))
    )


def _append_flag(var: str, flag: str) -> None:
    current = os.environ.get(var, "")
    if flag.split("=")[0] not in current:
        os.environ[var] = f"{current} {flag}".strip()


def configure(
    threads: int | None = None,
    deterministic: bool = True,
    backend: str | None = None,
    jit_compile: bool | str = False,
    mixed_precision: bool | str = False,
) -> str:
    """Prepare the environment, import keras and return the backend's name.

    threads: CPU threads for the framework's thread pools (None: leave as is).
    deterministic: ask for deterministic kernels (same seed, same machine, same
        result); on the CPU this costs nothing measurable, on GPUs a little.
    backend: ``KERAS_BACKEND`` to use (None: the environment's, default
        tensorflow). Ignored, with a warning, when keras is already imported.
    Also :func:`keep_freed_memory`, before the framework allocates anything.

    jit_compile: the models will be compiled with XLA. TensorFlow refuses XLA
        while its op determinism is on, so on TensorFlow this leaves op
        determinism off: an XLA program on the CPU is deterministic by itself
        (same machine and threads, same bits; ``tests/test_xla.py``), and on
        GPUs ``--xla_gpu_deterministic_ops`` asks the same of XLA. ``auto``: as
        :func:`resolve_execution` decides with ``mixed_precision``, once the
        backend has started (op determinism is then switched on where XLA is not).
    """
    if backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", backend) != backend:
            log.warning("keras already imported; cannot switch its backend to %s", backend)
        else:
            os.environ["KERAS_BACKEND"] = backend
    allocator = keep_freed_memory()
    # JAX takes most of a GPU's memory at start by default; jobs that share a GPU (several
    # train_cnn at once) take what they need instead.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    # TensorFlow's C++ INFO and WARNING lines (oneDNN notices, CPU feature guard) kept out.
    quiet_libraries()
    if threads is not None:
        threads = cap_environment(threads)
    # TensorFlow's op determinism, which its XLA path refuses (see jit_compile).
    decided = isinstance(jit_compile, bool)
    if deterministic and decided and not jit_compile:
        os.environ["TF_DETERMINISTIC_OPS"] = "1"
    else:  # one inherited from the caller's environment would turn XLA off
        os.environ.pop("TF_DETERMINISTIC_OPS", None)
    if deterministic:
        os.environ["TF_CUDNN_DETERMINISTIC"] = "1"
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # torch on CUDA
        _append_flag("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")  # jax/XLA on GPU

    import keras

    name = keras.backend.backend()
    if not decided:
        jit_compile = resolve_execution(mixed_precision, jit_compile)[1]
    tf_op_determinism = deterministic and not jit_compile
    if name == "tensorflow":
        import tensorflow as tf

        if threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
            except RuntimeError:  # the runtime already started: the env vars stand
                pass
        if tf_op_determinism:
            tf.config.experimental.enable_op_determinism()
    elif name == "torch":
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
    log.info(
        "keras %s, backend %s, threads %s, deterministic %s%s%s",
        keras.__version__,
        name,
        threads if threads is not None else "default",
        deterministic,
        ", XLA" if jit_compile else "",
        ", freed memory kept" if allocator else "",
    )
    return name


# CPU flags of bfloat16 arithmetic units (Linux /proc/cpuinfo names): AVX-512 BF16
# (AMD Zen 4 and later, Intel Cooper Lake, Sapphire Rapids) and AMX (Sapphire Rapids).
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# NVIDIA GPUs compute in bfloat16 from compute capability 8.0 (Ampere) on.
GPU_BF16_CAPABILITY = (8, 0)


def has_bf16_units(cpu_flags, gpu_capability: tuple[int, int] | None) -> bool:
    """Whether the device that trains has bfloat16 units: the GPU when there is one
    (its compute capability), else the CPU (its flags)."""
    if gpu_capability is not None:
        return tuple(gpu_capability) >= GPU_BF16_CAPABILITY
    return bool(CPU_BF16_FLAGS & set(cpu_flags))


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not readable)."""
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def gpu_capability() -> tuple[int, int] | None:
    """The compute capability of the first GPU that keras' backend sees, or None."""
    import keras

    name = keras.backend.backend()
    try:
        if name == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            if gpus and getattr(gpus[0], "compute_capability", None):
                major, minor = str(gpus[0].compute_capability).split(".")[:2]
                return int(major), int(minor)
        elif name == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return tuple(details.get("compute_capability", (0, 0)))
        elif name == "torch":
            import torch

            if torch.cuda.is_available():
                return tuple(torch.cuda.get_device_capability(0))
    except (RuntimeError, ValueError, AttributeError):
        return None
    return None


def resolve_precision(setting: bool | str) -> bool:
    """``mixed_precision`` as a choice: true/false as given; ``auto``: mixed bfloat16
    exactly when the training device has bfloat16 units (:func:`has_bf16_units`)."""
    return resolve_execution(setting, False)[0]


def fastest_path(
    mixed_precision: bool | str,
    jit_compile: bool | str,
    cpu: set[str] | frozenset[str],
    gpu: tuple[int, int] | None,
    backend: str,
) -> tuple[bool, bool]:
    """The (mixed bfloat16, XLA) pair to train with; ``auto`` chooses the fastest exact
    path for the device, as measured on the CPUs this workflow ran on:

    - precision: bfloat16 where the device has bfloat16 units (a GPU from compute
      capability 8.0; a CPU with AVX512_BF16 or AMX: 835 against 643 images/s for
      ``fast`` on 2 cores of an AMD EPYC with AVX512_BF16), else float32 (without
      those units bfloat16 is 5-10x slower);
    - XLA: on TensorFlow, only for float32 on a CPU (it doubled float32 on AVX2-only
      CPUs, and made bfloat16 2x slower on CPUs with bf16 units); JAX compiles
      everything anyway, and a GPU runs TensorFlow without it.
    """
    for name, value in (("mixed_precision", mixed_precision), ("jit_compile", jit_compile)):
        if not isinstance(value, bool) and value != "auto":
            raise ValueError(f"{name} must be true, false or 'auto', got {value!r}")
    mixed = mixed_precision if isinstance(mixed_precision, bool) else has_bf16_units(cpu, gpu)
    if isinstance(jit_compile, bool):
        return mixed, jit_compile
    return mixed, backend == "tensorflow" and gpu is None and not mixed


def resolve_execution(mixed_precision: bool | str, jit_compile: bool | str) -> tuple[bool, bool]:
    """:func:`fastest_path` on this machine: its CPU flags, its GPU, keras' backend."""
    import keras

    return fastest_path(
        mixed_precision, jit_compile, cpu_flags(), gpu_capability(), keras.backend.backend()
    )


@contextmanager
def dtype_policy(mixed_precision: bool) -> Iterator[str]:
    """Build layers under ``mixed_bfloat16`` (or float32), then restore the policy.

    Layers take the global policy when they are created and keep it (it is also
    saved with the model), so the policy only needs to be set while building.
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    name = MIXED_POLICY if mixed_precision else "float32"
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)
