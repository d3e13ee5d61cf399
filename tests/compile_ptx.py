"""Compile every CUDA kernel to PTX, for every signature the engine launches it with: no GPU needed.

    python tests/compile_ptx.py [--cc 7.0 8.0 9.0]

Prints one line per kernel, signature and compute capability, then ``compiled-ok N`` (N
compilations), and exits
non-zero on the first failure.  libNVVM and libdevice come from the ``nvidia-cuda-nvcc-cu12``
wheel (``-cu11`` for numba 0.56, whose NVVM IR CUDA 12 no longer reads) installed in *this* interpreter's environment: the paths are set here, before numba is
imported, so the user's shell cannot change what is checked.  No driver is loaded: the compute
capability that numba would ask the device for is the first ``--cc``.  Runs with any numba the
project supports (``ci/ptx-check.sh`` runs it with numba 0.57.1 and 0.56.4 too); imports only
the kernel modules, which load without NVTabular.  ``tests/test_kernels_compile_ptx.py`` runs it.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import types as pytypes

HERE = os.path.dirname(os.path.abspath(__file__))


def toolchain_env():
    """``CUDA_HOME``/``NUMBA_CUDA_NVVM``/``NUMBA_CUDA_LIBDEVICE`` pointing into the nvcc wheel."""
    spec = importlib.util.find_spec("nvidia.cuda_nvcc")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("compile_ptx: the nvidia-cuda-nvcc-cu12 wheel is not installed in "
                         f"{sys.prefix} (it is pinned in requirements.txt)")
    toolkit_version()
    home = list(spec.submodule_search_locations)[0]
    nvvm = os.path.join(home, "nvvm", "lib64", "libnvvm.so")
    libdevice = os.path.join(home, "nvvm", "libdevice", "libdevice.10.bc")
    for path in (nvvm, libdevice):
        if not os.path.exists(path):
            raise SystemExit(f"compile_ptx: {path} is missing from the nvcc wheel")
    # numba 0.56/0.57 read NUMBA_CUDA_NVVM/NUMBA_CUDA_LIBDEVICE; later ones find both under CUDA_HOME.
    return {"CUDA_HOME": home, "NUMBA_CUDA_NVVM": nvvm, "NUMBA_CUDA_LIBDEVICE": libdevice}


def toolkit_version():
    """``(major, minor)`` of the installed nvcc wheel (``-cu12``, or ``-cu11`` for numba 0.56)."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("nvidia-cuda-nvcc-cu12", "nvidia-cuda-nvcc-cu11"):
        try:
            return tuple(int(x) for x in version(dist).split(".")[:2])
        except PackageNotFoundError:
            continue
    raise SystemExit("compile_ptx: no nvidia-cuda-nvcc wheel installed")


def pin_nvvm(env):
    """Make numba load the wheel's libNVVM, and check that it did (a system CUDA may have another)."""
    from numba.cuda import cuda_paths
    from numba.cuda.cudadrv import nvvm

    paths = cuda_paths.get_cuda_paths()  # cached dict: numba reads it when it loads libNVVM
    if paths["nvvm"].info != env["NUMBA_CUDA_NVVM"]:
        # numba 0.56 looks for libnvvm.so.<version> only; the wheel ships libnvvm.so
        paths["nvvm"] = cuda_paths._env_path_tuple("nvcc wheel", env["NUMBA_CUDA_NVVM"])
    version = nvvm.NVVM().get_version()
    with open("/proc/self/maps") as maps:
        loaded = {line.split()[-1] for line in maps if "libnvvm" in line}
    if loaded != {os.path.realpath(env["NUMBA_CUDA_NVVM"])}:
        raise SystemExit(f"compile_ptx: numba loaded {sorted(loaded)}, not the wheel's {env['NUMBA_CUDA_NVVM']}")
    return version


def fake_device(cc):
    """Answer numba's "compute capability of the current device?" without a driver.

    Device functions called from a kernel are compiled for the current device's capability
    (``numba.cuda.dispatcher`` asks ``get_current_device()``), which needs a driver otherwise.
    """
    device = pytypes.SimpleNamespace(compute_capability=cc, id=0, name=b"fake")
    import numba.cuda.dispatcher as dispatcher
    from numba.cuda.cudadrv import runtime

    for module in (dispatcher, sys.modules.get("numba.cuda.compiler"), sys.modules.get("numba.cuda.api")):
        if module is not None and hasattr(module, "get_current_device"):
            module.get_current_device = lambda: device
    try:
        runtime.runtime.get_version()
    except Exception:  # noqa: BLE001 - no libcudart here
        # numba <= 0.57 asks the CUDA runtime library for the toolkit version to list the
        # capabilities NVVM supports; the toolkit is the nvcc wheel's.
        runtime.runtime.get_version = lambda: toolkit_version()


def launches():
    """``(kernel, args)`` of every launch shape the engine makes, captured instead of launched.

    Item ids int32 and int64 (the engine hands the kernels their uint64 bit patterns), offsets
    int32 and int64 (the cuDF adapter gives int64, direct callers may give int32), integer keys,
    string keys and no key (content-keyed rows), with and without a pad id, one thread or one warp
    per row; and the kernel with last-item rows and 80/10/10 (uniform and popularity draws).
    """
    import numpy as np

    from merlin_mlm_ops.masking import engine, hashing, kernels_gpu, rules

    captured = []
    kernels_gpu._launch = lambda kernel, args, n_rows: captured.append((kernel, args))
    keys = {
        "int key": engine.row_keys_from_column("int", np.array([5, -2], dtype=np.int64), None),
        "str key": engine.row_keys_from_column("str", np.frombuffer(b"abcd", np.uint8), np.array([0, 1, 4])),
        "no key": None,
    }
    for ids in (np.int32, np.int64):
        values = hashing.as_uint64(np.array([3, 0, 4], dtype=ids))
        for offsets in (np.array([0, 1, 3], dtype=np.int32), np.array([0, 1, 3], dtype=np.int64)):
            for key_name, row_keys in keys.items():
                for pad_id in (0, None):
                    for per_row in ("thread", "warp"):
                        kernels_gpu.mask_random(values, offsets, row_keys, seed=1, epoch=0, prob=0.2, pad_id=pad_id,
                                                max_masked=None if pad_id is None else 3, per_row=per_row)
            for pad_id in (0, None):
                kernels_gpu.mask_last(values, offsets, pad_id=pad_id)
            for draw in (rules.ItemDraw(1, 9, pad_id=0), rules.ItemDraw(counts=np.array([0, 2, 5]), pad_id=0)):
                for replace in (None, (0.8, 0.1, 0.1)):
                    kernels_gpu.mask_extended(values, offsets, keys["no key"], seed=1, epoch=0, prob=0.2, pad_id=0,
                                              last_ratio=0.1, replace=replace, draw=draw)
    return captured


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cc", nargs="+", default=["7.0", "8.0", "9.0"],
                        help="compute capabilities to compile for (default: 7.0 8.0 9.0)")
    args = parser.parse_args(argv)
    ccs = [tuple(int(x) for x in cc.split(".")) for cc in args.cc]
    env = toolchain_env()
    os.environ.update(env)
    os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
    sys.path.insert(0, os.path.dirname(HERE))

    import numba
    from numba import cuda, typeof

    fake_device(ccs[0])
    nvvm_version = pin_nvvm(env)
    print(f"numba {numba.__version__}, CUDA target {getattr(cuda, 'implementation', 'built-in')}, "
          f"libNVVM {nvvm_version} of nvcc wheel {'.'.join(map(str, toolkit_version()))}")
    signatures = {}
    for kernel, kernel_args in launches():
        signatures[kernel.py_func, tuple(typeof(a) for a in kernel_args)] = None
    done = 0
    for cc in ccs:
        for kernel, sig in signatures:
            ptx, _ = cuda.compile_ptx(kernel, sig, cc=cc)
            if ".entry" not in ptx:
                raise SystemExit(f"compile_ptx: no kernel entry in the PTX of {kernel.__name__}{sig}")
            done += 1
            print(f"  cc {cc[0]}.{cc[1]} {kernel.__name__}({', '.join(map(str, sig))}): {len(ptx):,} chars of PTX")
    print("compiled-ok", done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
