"""Every timed variant, and which of them a run selects.

A variant is harness code through a registered backend plugin, native code written directly
in one library, or the rival framework (Keras 3). Each runs in the process of its `library`,
beside the native code of the same library, so that their ratio is measured side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import plugins

from .problem import SIZES

DTYPES = ("float32", "float64")
NATIVE_LIBRARIES = ("numpy", "torch", "jax")
RIVALS = ("keras-jax", "keras-torch")
QUICK_SIZES = ("homework", "medium")
FULL_ONLY_BACKENDS = ("torch-compile",)
"""Compiling costs seconds per size and dtype: left to the full run."""
GRID_BATCHES, GRID_WIDTHS, GRID_D_OUT = (2, 64, 1024), (4, 64, 256, 1024, 2048), 10
"""The shape grid: batch x width, where width is both D_in and H."""
QUICK_GRID = ((1024,), (4,))
"""One shape in a quick run, the one the issue found furthest from native (JAX, 1.63x)."""
GRID_LIBRARIES = ("numpy", "jax")
"""The harness backend named like each library, against that library's idiomatic step. torch
is left out: its 30 cells would cost about two minutes of a run kept under fifteen."""
INTERLEAVE_S = {True: 0.05, False: 0.4}
SAME_MATHS = "same-maths"
"""The flavour of the native step that computes exactly the harness's maths (the seeds' eps)."""
"""Seconds of interleaved blocks per measurement, quick run or full."""


@dataclass(frozen=True)
class Variant:
    role: str
    """harness, native or rival."""
    name: str
    """The backend, library or framework: "torch", "torch-manual", "keras-jax"."""
    library: str
    """The process it runs in and the native code it is compared with."""
    flavour: str = ""
    """Sets apart two natives of one library, e.g. "same-maths"."""

    @property
    def id(self) -> str:
        return "-".join(filter(None, (self.role, self.name, self.flavour)))

    @property
    def label(self) -> str:
        return " ".join(filter(None, (self.role, self.name, self.flavour)))


def harness_variants() -> list[Variant]:
    """One variant per registered, importable backend plugin, with its library."""
    found = []
    for name in plugins.discover():
        backend = plugins.load(name)
        library = getattr(backend, "library", "?")
        found.append(Variant("harness", name, library))
    return found


def native_variants() -> list[Variant]:
    return [
        Variant("native", "numpy", "numpy"),
        Variant("native", "numpy", "numpy", SAME_MATHS),
        Variant("native", "torch", "torch"),
        Variant("native", "torch", "torch", SAME_MATHS),
        Variant("native", "jax", "jax"),
        Variant("native", "jax", "jax", SAME_MATHS),
    ]


def rival_variants() -> list[Variant]:
    return [Variant("rival", name, name) for name in RIVALS]


@dataclass(frozen=True)
class Selection:
    """What one pytest process times, from the bench options."""

    libraries: tuple[str, ...]
    backends: tuple[str, ...]
    sizes: tuple[str, ...]
    dtypes: tuple[str, ...]
    quick: bool
    device: str
    threads: int = 0
    """Threads each library was told to use (0: its default); the runner sets the env too."""
    series: str = ""
    """"" for the main run, "1-thread" for the single-thread series at homework size."""

    @property
    def interleave_s(self) -> float:
        return INTERLEAVE_S[self.quick]

    def grid_cells(self) -> list[tuple[int, int, str, str]]:
        """(batch, width, dtype, library) of the shape grid this process times."""
        batches, widths = QUICK_GRID if self.quick else (GRID_BATCHES, GRID_WIDTHS)
        libraries = [
            lib
            for lib in GRID_LIBRARIES
            if (not self.libraries or lib in self.libraries)
            and (not self.backends or lib in self.backends)
        ]
        return [
            (b, w, d, lib)
            for lib in libraries
            for d in self.dtypes
            for b in batches
            for w in widths
        ]

    def wants(self, variant: Variant) -> bool:
        if self.libraries and variant.library not in self.libraries:
            return False
        if variant.role == "native":
            return True
        if self.backends:
            return variant.name in self.backends
        return not (self.quick and variant.name in FULL_ONLY_BACKENDS)

    def step_variants(self) -> list[Variant]:
        every = harness_variants() + native_variants() + rival_variants()
        return [v for v in every if self.wants(v)]


def selection(config) -> Selection:
    quick = bool(config.getoption("--bench-quick"))
    sizes = tuple(config.getoption("--bench-size")) or (QUICK_SIZES if quick else tuple(SIZES))
    return Selection(
        libraries=tuple(config.getoption("--bench-library")),
        backends=tuple(config.getoption("--bench-backend")),
        sizes=sizes,
        dtypes=tuple(config.getoption("--bench-dtype")) or DTYPES,
        quick=quick,
        device=config.getoption("--bench-device"),
        threads=config.getoption("--bench-threads"),
        series=config.getoption("--bench-series"),
    )
