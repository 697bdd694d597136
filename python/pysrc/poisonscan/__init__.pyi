"""Type stubs of poisonscan (the native module poisonscan._native)."""

import os
from typing import Any, Literal, Mapping, Optional, Protocol, Sequence, Union

__version__: str

class _ArrowStream(Protocol):
    def __arrow_c_stream__(self, requested_schema: object = ...) -> object: ...

_Path = Union[str, "os.PathLike[str]"]

class PoisonscanError(Exception):
    """A scan could not run or its results could not be written."""

class InputError(PoisonscanError):
    """Bad input (the command line's exit-2 input errors): a missing file or
    column, a wrong type, invalid features, null labels, one class, no rows."""

class Scores:
    """The scores table, one row per input row: ``row``, ``id`` (with
    ``id=``), ``label``, ``score`` (fused suspicion in [0, 1]), ``significance``
    (−log10 of the fused p-value, unrounded), ``flagged``, ``rank`` (the
    rows' order from 1: flagged rows first, each part by significance),
    ``reasons``, ``suspected_label``, ``score_<scanner>``. Exports the Arrow
    PyCapsule stream interface: ``pyarrow.table(scores)``,
    ``polars.DataFrame(scores)`` read it without a copy."""

    def __arrow_c_stream__(self, requested_schema: object = None) -> object: ...
    @property
    def column_names(self) -> list[str]: ...
    def __len__(self) -> int: ...

class ScanResult:
    """A finished scan."""

    @property
    def scores(self) -> Scores:
        """The scores table."""
    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json`` as a dict."""
    @property
    def verdict(self) -> Literal["pass", "fail"]:
        """The data set's verdict (the CLI exits 1 on ``"fail"``)."""
    @property
    def failed_classes(self) -> list[str]:
        """Labels of the classes that failed."""
    @property
    def flagged_rows(self) -> list[int]:
        """Input rows (0-based) that were flagged."""
    def partial(self) -> bytes:
        """This scan as a shard's partial (Parquet bytes) for :func:`merge`."""
    def write(
        self,
        out_dir: _Path,
        *,
        scores_format: Literal["parquet", "csv", "json"] = "parquet",
        report: bool = False,
        report_max_rows: int = 64,
    ) -> list[str]:
        """Writes ``scores.<format>``, ``summary.json`` and, with
        ``report=True``, ``report.html`` into ``out_dir``, atomically, as the
        command line does. Returns the paths written."""

def scan(
    data: Union[_ArrowStream, _Path, Sequence[_Path]],
    *,
    label: str = "label",
    embedding: Optional[str] = None,
    features: Optional[Sequence[str]] = None,
    id: Optional[str] = None,
    probs: Optional[str] = None,
    image_shape: Union[Sequence[int], Literal["none"], None] = None,
    resize: Optional[tuple[int, int]] = None,
    drop_invalid: bool = False,
    separator: Optional[str] = None,
    no_header: bool = False,
    scanners: Optional[Sequence[str]] = None,
    options: Optional[Mapping[str, str]] = None,
    model: Literal["auto", "none", "mlp", "cnn"] = "auto",
    epochs: Optional[int] = None,
    seed: int = 0,
    threshold: Optional[float] = None,
    budget: Optional[float] = None,
    min_flagged: Optional[int] = None,
    fail_on_noise: Optional[float] = None,
    caption: Optional[str] = None,
) -> ScanResult:
    """Scans a data set, as ``poisonscan scan`` does, and returns the result.

    ``data``: an object with ``__arrow_c_stream__`` (pyarrow, polars, DuckDB,
    ...; read without copies but the one into the feature matrix) or a path,
    glob or list of them. The other arguments are the command line's
    options of the same names (``--label``, ``--embedding``, ``--features``
    with globs, ``--id``, ``--probs``, ``--image-shape`` (a shape, or
    ``"none"``), ``--resize``,
    ``--drop-invalid``, ``--separator``, ``--no-header``, ``--scanners``, ``--set`` as ``options={"SCANNER.OPTION":
    "VALUE"}``, ``--model``, ``--epochs``, ``--seed``, ``--threshold``,
    ``--budget``, ``--min-flagged``, ``--fail-on-noise``, ``--caption``). The GIL is released
    while scanning. Raises ``InputError`` on bad input, ``ValueError`` on a
    bad option."""

def merge(partials: Sequence[Union[bytes, _Path]]) -> ScanResult:
    """Merges shard partials (``ScanResult.partial()`` bytes, or files written
    by ``poisonscan scan --shard-out``) into the data set's scan: every
    shard's rows in the order given, each class test combined over the shards
    (Fisher's method), the calibration over all rows and classes. Scan every
    shard of a random partition with the same options. Raises ``InputError``
    when the partials do not belong together."""
