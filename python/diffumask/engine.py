"""The engine over ctypes: ``Engine`` runs txt2img and DiffuMask samples of ``libdiffumask.so``
and hands back numpy arrays; ``Error`` carries the library's one-line message.

The library is looked for, in order: the file (or folder) ``$DIFFUMASK_LIB`` names; the one
``make install`` installed with the package (recorded in ``_install.py``); beside the package
(its folder, or PREFIX/lib for a package in PREFIX/lib/python3*/…-packages); a source
checkout's ``build/``; the dynamic loader's path; /usr/local/lib and ~/.local/lib. ``library_path()`` says which file was loaded.
Nothing is loaded before the first use, so a missing or older library is an ``Error`` then,
never an import failure."""

import ctypes
import os
import signal
import sys
import threading

import numpy as np

from . import __version__

SONAME = "libdiffumask.so.0"

_PRECISIONS = {"auto": 0, "fp32": 1, "bf16": 2}
_STATUS = {1: "DM_ERR", 2: "DM_EUSAGE", 3: "DM_ESTOPPED"}
# the functions this package calls: a library without one of them is too old for it
_NEEDED = ("dm_open_config", "dm_close", "dm_native_size", "dm_latent_shape", "dm_generate_ex",
           "dm_version", "dm_engine_precision")


class Error(Exception):
    """A failure of the engine or a request it refuses: the library's one-line message.
    ``status`` is the library's code (1 failure, 2 bad usage, 3 stopped) or 0 for a failure
    found before the library was called (no library, a bad argument)."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class _ErrorBuf(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * 1024)]


class _Lora(ctypes.Structure):
    _fields_ = [("path", ctypes.c_char_p), ("scale", ctypes.c_float)]


class _EngineConfig(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("model_path", ctypes.c_char_p),
                ("threads", ctypes.c_int),
                ("loras", ctypes.POINTER(_Lora)), ("n_loras", ctypes.c_int),
                ("vae_decoder", ctypes.c_char_p), ("precision", ctypes.c_int)]


class _Request(ctypes.Structure):
    _fields_ = [("prompt", ctypes.c_char_p), ("negative_prompt", ctypes.c_char_p),
                ("steps", ctypes.c_int), ("guidance", ctypes.c_float),
                ("sampler", ctypes.c_char_p), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("seed", ctypes.c_uint64), ("timestep_spacing", ctypes.c_char_p)]


_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
_STOP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _RunOptions(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("latents", ctypes.c_void_p),
                ("progress", _PROGRESS), ("should_stop", _STOP), ("user", ctypes.c_void_p),
                ("heatmaps", ctypes.c_void_p), ("mask_method", ctypes.c_char_p)]


_lock = threading.Lock()
_lib = None
_lib_path = None


def _candidates():
    """(path, where) pairs to try, in order."""
    env = os.environ.get("DIFFUMASK_LIB")
    if env:
        # only what was asked for: a wrong DIFFUMASK_LIB is an error, not a silent fallback
        if os.path.isdir(env):
            return [(os.path.join(env, n), "DIFFUMASK_LIB") for n in (SONAME, "libdiffumask.so")]
        return [(env, "DIFFUMASK_LIB")]
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    try:  # written by `make install`: the library installed with the package
        from . import _install

        out.append((os.path.normpath(os.path.join(here, _install.LIBRARY)), "make install"))
    except ImportError:
        pass
    out.append((os.path.join(here, SONAME), "beside the package"))
    # PREFIX/lib/python3*/{dist,site}-packages/diffumask -> PREFIX/lib
    libdir = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    out.append((os.path.join(libdir, SONAME), "the package's PREFIX/lib"))
    # a source checkout: python/diffumask -> build/
    out.append((os.path.join(os.path.dirname(os.path.dirname(here)), "build", SONAME),
                "the source tree's build/"))
    out.append((SONAME, "the loader path"))
    for d in ("/usr/local/lib", os.path.expanduser("~/.local/lib")):
        out.append((os.path.join(d, SONAME), d))
    return out


def _bind(lib):
    c = ctypes
    E = c.POINTER(_ErrorBuf)
    lib.dm_open_config.argtypes = [c.POINTER(_EngineConfig), c.POINTER(c.c_void_p), E]
    lib.dm_open_config.restype = c.c_int
    lib.dm_close.argtypes = [c.c_void_p]
    lib.dm_close.restype = None
    lib.dm_native_size.argtypes = [c.c_void_p]
    lib.dm_native_size.restype = c.c_int
    lib.dm_engine_precision.argtypes = [c.c_void_p]
    lib.dm_engine_precision.restype = c.c_int
    P = c.POINTER(c.c_int)
    lib.dm_latent_shape.argtypes = [c.c_void_p, c.c_int, c.c_int, P, P, P]
    lib.dm_latent_shape.restype = None
    lib.dm_generate_ex.argtypes = [c.c_void_p, c.POINTER(_Request), c.POINTER(_RunOptions),
                                   c.POINTER(c.c_char_p), c.c_int, c.c_void_p, c.c_void_p,
                                   c.POINTER(c.c_float), E]
    lib.dm_generate_ex.restype = c.c_int
    lib.dm_version.argtypes = []
    lib.dm_version.restype = c.c_char_p


def _load():
    """The loaded library (loading it on the first call), or Error saying what was tried."""
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path, where in _candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append(f"{path} ({where}): no such file")
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"{path} ({where}): {e}")
                if where == "DIFFUMASK_LIB":
                    break
                continue
            missing = [n for n in _NEEDED if not hasattr(lib, n)]
            if missing:
                raise Error(f"{path} ({where}): not a diffumask library this package can use "
                            f"(no {', '.join(missing)}; diffumask {__version__} for Python needs "
                            f"a library of the same version)")
            _bind(lib)
            version = lib.dm_version().decode()
            if version.split(".")[:2] != __version__.split(".")[:2]:
                raise Error(f"{path} ({where}): library version {version}, but diffumask for "
                            f"Python is {__version__} (install both from one source tree)")
            _lib = lib
            _lib_path = _resolve(lib, path)
            return _lib
        raise Error("libdiffumask not found (set DIFFUMASK_LIB to the library file, or "
                    "`make install` it); tried: " + "; ".join(tried))


def _resolve(lib, path):
    """The file the loader actually opened (a bare soname resolved through /proc/self/maps)."""
    if os.sep in path:
        return os.path.realpath(path)
    try:
        addr = ctypes.cast(lib.dm_version, ctypes.c_void_p).value
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                if lo <= addr < hi and len(parts) >= 6:
                    return parts[5]
    except (OSError, ValueError):
        pass
    return path


def library_path():
    """The path of the libdiffumask.so this process uses (loads it if not yet loaded)."""
    _load()
    return _lib_path


def _cstr(value, what, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise Error(f"{what} must be a string, not {type(value).__name__}")
    if "\0" in value:
        raise Error(f"{what} contains a NUL character")
    return value.encode("utf-8")


def _int(value, what, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise Error(f"{what} must be an integer, not {type(value).__name__}")
    if not lo <= int(value) <= hi:
        raise Error(f"{what} must be in {lo}..{hi}, not {value}")
    return int(value)


class Sample:
    """One DiffuMask sample: ``image`` (H, W, 3) uint8, ``mask`` (H, W) uint8 (0 background,
    k + 1 = classes[k], 255 ignore), ``heatmaps`` {class: (H, W) float32 in [0, 1]} (each
    class word's aggregated cross-attention before refinement), ``score`` in [0, 1]."""

    __slots__ = ("image", "mask", "heatmaps", "score", "prompt", "classes", "seed", "index")

    def __init__(self, image, mask, heatmaps, score, prompt, classes, seed, index=None):
        self.image, self.mask, self.heatmaps, self.score = image, mask, heatmaps, score
        self.prompt, self.classes, self.seed, self.index = prompt, list(classes), seed, index

    def __repr__(self):
        return (f"Sample(prompt={self.prompt!r}, classes={self.classes}, seed={self.seed}, "
                f"image{self.image.shape}, score={self.score:.3f})")


class _Progress:
    """progress=True: a tqdm bar where tqdm is installed, else a line on stderr per step."""

    def __init__(self):
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        self.tqdm, self.bar = tqdm, None

    def __call__(self, step, n):
        if self.tqdm is not None:
            if self.bar is None:
                self.bar = self.tqdm(total=n, unit="step", leave=False)
            self.bar.update(step - self.bar.n)
            if step == n:
                self.bar.close()
        else:
            sys.stderr.write(f"\rstep {step}/{n}" + ("\n" if step == n else ""))
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _Call:
    """The callbacks of one call: progress forwarded, stop asked when Ctrl-C was pressed or the
    progress callback raised. SIGINT gets a handler that only sets a flag, for the call's
    duration (main thread only: Python allows handlers nowhere else); the C library runs the
    steps with the GIL released and asks should_stop after each one."""

    def __init__(self, progress):
        if progress is True:
            progress = _Progress()
        elif progress is not None and not callable(progress) and progress is not False:
            raise Error("progress must be a callable (step, n_steps), True or None")
        self.progress = progress or None
        self.interrupted = False
        self.exc = None
        self.old_handler = None
        self.c_progress = _PROGRESS(self._on_progress)
        self.c_stop = _STOP(self._should_stop)

    def _on_progress(self, _user, step, n):
        if self.progress is None or self.exc is not None:
            return
        try:
            self.progress(step, n)
        except BaseException as e:  # raised again once the library has returned
            self.exc = e

    def _should_stop(self, _user):
        return 1 if (self.interrupted or self.exc is not None) else 0

    def _on_sigint(self, _signum, _frame):
        self.interrupted = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self.old_handler = signal.signal(signal.SIGINT, self._on_sigint)
            except ValueError:
                self.old_handler = None
        return self

    def __exit__(self, *exc):
        if self.old_handler is not None:
            signal.signal(signal.SIGINT, self.old_handler)
        if isinstance(self.progress, _Progress):
            self.progress.close()
        return False

    def check(self, status, err):
        """After the call: KeyboardInterrupt / the callback's exception / Error, or nothing."""
        if self.exc is not None:
            raise self.exc
        if self.interrupted:
            raise KeyboardInterrupt
        if status != 0:
            raise Error(err.msg.decode("utf-8", "replace"), status)


class Engine:
    """A loaded model. ``Engine()`` is the built-in demo model (toy-shapes, 64 x 64).

    model: a diffusers folder or a single .safetensors checkpoint; threads: 0 = all cores;
    precision: "auto" (bf16 where the CPU has it), "fp32" or "bf16"; lora: paths or
    (path, scale) pairs merged in order; vae_decoder: an AutoencoderTiny (TAESD) folder.
    One engine runs one call at a time (calls from several threads wait for each other)."""

    def __init__(self, model=None, threads=0, precision="auto", lora=(), vae_decoder=None):
        lib = _load()
        if precision not in _PRECISIONS:
            raise Error(f"precision must be one of {', '.join(_PRECISIONS)}, not {precision!r}")
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        if isinstance(vae_decoder, os.PathLike):
            vae_decoder = os.fspath(vae_decoder)
        if isinstance(lora, (str, os.PathLike)) or (isinstance(lora, tuple) and len(lora) == 2
                                                     and isinstance(lora[1], (int, float))):
            lora = [lora]
        loras = []
        for item in lora:
            path, scale = (item, 1.0) if isinstance(item, (str, os.PathLike)) else item
            loras.append(_Lora(_cstr(os.fspath(path), "lora path"), float(scale)))
        arr = (_Lora * max(1, len(loras)))(*loras)
        self._keep = [arr]
        o = _EngineConfig(size=ctypes.sizeof(_EngineConfig),
                          model_path=_cstr(model, "model", allow_none=True),
                          threads=_int(threads, "threads", 0, 4096),
                          loras=ctypes.cast(arr, ctypes.POINTER(_Lora)) if loras else None,
                          n_loras=len(loras),
                          vae_decoder=_cstr(vae_decoder, "vae_decoder", allow_none=True),
                          precision=_PRECISIONS[precision])
        handle, err = ctypes.c_void_p(), _ErrorBuf()
        status = lib.dm_open_config(ctypes.byref(o), ctypes.byref(handle), ctypes.byref(err))
        if status:
            raise Error(err.msg.decode("utf-8", "replace"), status)
        self._lib, self._h = lib, handle
        self._call_lock = threading.Lock()
        self.model = model
        self.native_size = lib.dm_native_size(handle)
        self.precision = {1: "fp32", 2: "bf16"}.get(lib.dm_engine_precision(handle), "?")

    # -- lifetime
    def close(self):
        """Frees the model; the engine cannot be used afterwards (closing twice is fine)."""
        h, self._h = getattr(self, "_h", None), None
        if h:
            self._lib.dm_close(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "closed" if not self._h else f"{self.native_size}px, {self.precision}"
        return f"Engine(model={self.model!r}, {state})"

    # -- requests
    def latent_shape(self, width=None, height=None):
        """(1, C, h, w): the shape ``latents=`` takes for that image size."""
        self._handle()
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        self._lib.dm_latent_shape(self._h, int(width or 0), int(height or 0), ctypes.byref(c),
                                  ctypes.byref(h), ctypes.byref(w))
        return (1, c.value, h.value, w.value)

    def _handle(self):
        if not self._h:
            raise Error("this Engine is closed")
        return self._h

    def _request(self, prompt, negative_prompt, steps, guidance, sampler, seed, width, height,
                 timestep_spacing):
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float, np.floating)):
            raise Error(f"guidance must be a number, not {type(guidance).__name__}")
        if not np.isfinite(guidance) or guidance < 0:
            raise Error(f"guidance must be a finite number >= 0, not {guidance}")
        w = self.native_size if width is None else _int(width, "width", 1, 16384)
        h = self.native_size if height is None else _int(height, "height", 1, 16384)
        r = _Request(prompt=_cstr(prompt, "prompt"),
                     negative_prompt=_cstr(negative_prompt, "negative_prompt", allow_none=True),
                     steps=_int(steps, "steps", 1, 1000),
                     # the library reads 0 as "the default 7.5"; anything <= 1 disables
                     # classifier-free guidance, so 0 is sent as 1
                     guidance=float(guidance) if guidance > 0 else 1.0,
                     sampler=_cstr(sampler, "sampler"), width=w, height=h,
                     seed=_int(seed, "seed", 0, 2**64 - 1),
                     timestep_spacing=_cstr(timestep_spacing, "timestep_spacing",
                                            allow_none=True))
        return r, w, h

    def _latents(self, latents, w, h):
        if latents is None:
            return None
        want = self.latent_shape(w, h)
        a = np.ascontiguousarray(np.asarray(latents), dtype=np.float32)
        if a.shape not in (want, want[1:]):
            raise Error(f"latents: shape {a.shape}, expected {want} for a {w}x{h} image")
        if not np.isfinite(a).all():
            raise Error("latents: not all finite")
        return a

    def _run(self, req, w, h, latents, words, progress, mask_method):
        lat = self._latents(latents, w, h)
        K = len(words)
        image = np.empty((h, w, 3), np.uint8)
        mask = np.empty((h, w), np.uint8) if K else None
        heat = np.empty((K, h, w), np.float32) if K else None
        score = ctypes.c_float(0)
        opts = _RunOptions(size=ctypes.sizeof(_RunOptions))
        opts.latents = lat.ctypes.data if lat is not None else None
        opts.heatmaps = heat.ctypes.data if K else None
        opts.mask_method = _cstr(mask_method, "mask_method", allow_none=True)
        cwords = (ctypes.c_char_p * max(1, K))(*[_cstr(x, "class word") for x in words])
        err = _ErrorBuf()
        with self._call_lock:
            hnd = self._handle()
            with _Call(progress) as call:
                opts.progress, opts.should_stop = call.c_progress, call.c_stop
                status = self._lib.dm_generate_ex(
                    hnd, ctypes.byref(req), ctypes.byref(opts), cwords, K, image.ctypes.data,
                    mask.ctypes.data if K else None, ctypes.byref(score), ctypes.byref(err))
            call.check(status, err)
        return image, mask, heat, float(score.value)

    def txt2img(self, prompt, *, negative_prompt="", steps=25, guidance=7.5, sampler="ddim",
                seed=0, width=None, height=None, latents=None, timestep_spacing=None,
                progress=None):
        """The image (H, W, 3) uint8 of a prompt. latents: optional float32 (1, 4, H/8, W/8)
        initial noise, as diffusers' ``latents=`` (``latent_shape()`` gives the shape; the seed
        is then unused). progress: a callable (step, n_steps), or True for a bar."""
        req, w, h = self._request(prompt, negative_prompt, steps, guidance, sampler, seed, width,
                                  height, timestep_spacing)
        return self._run(req, w, h, latents, [], progress, None)[0]

    def generate_masked(self, prompt, classes, *, words=None, mask_method=None,
                        negative_prompt="", steps=25, guidance=7.5, sampler="ddim", seed=0,
                        width=None, height=None, latents=None, timestep_spacing=None,
                        progress=None):
        """A DiffuMask sample: the image, the mask of ``classes`` (id k + 1 = classes[k]) and
        each class's heat map. words: the word of the prompt each class is found by (default:
        the class names themselves); mask_method: e.g. "basic", "crf" (default: the
        library's)."""
        if isinstance(classes, str):
            classes = [classes]
        classes = list(classes)
        if not classes:
            raise Error("classes: at least one class is needed")
        words = classes if words is None else ([words] if isinstance(words, str) else list(words))
        if len(words) != len(classes):
            raise Error(f"words: {len(words)} words for {len(classes)} classes")
        if len(set(classes)) != len(classes):
            raise Error(f"classes: a class is named twice in {classes}")
        req, w, h = self._request(prompt, negative_prompt, steps, guidance, sampler, seed, width,
                                  height, timestep_spacing)
        image, mask, heat, score = self._run(req, w, h, latents, words, progress, mask_method)
        return Sample(image, mask, {c: heat[k] for k, c in enumerate(classes)}, score, prompt,
                      classes, seed)
