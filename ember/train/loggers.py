"""Writers for training logs: CSV rows and TensorBoard event files (no TensorFlow or tensorboard needed).

A TensorBoard event file is a TFRecord stream: each record is ``uint64 length, uint32 masked_crc32c(length),
bytes data, uint32 masked_crc32c(data)`` (little-endian), and each data is a serialized ``Event`` protobuf. The
protobuf fields that scalars, histograms, images, text and hyper-parameters need are encoded by hand here:

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
              SessionLog session_log = 7; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; Image image = 4; HistogramProto histo = 5;
              TensorProto tensor = 8; SummaryMetadata metadata = 9; }

and the messages each of those holds, as each encoder below says. ``SummaryWriter`` has PyTorch's API
(torch.utils.tensorboard.SummaryWriter) and writes what PyTorch's writes; it is also ember.utils.tensorboard's.
"""
import contextlib
import csv
import glob
import io
import os
import socket
import struct
import time
import zlib
from datetime import datetime

import numpy as np

__all__ = ["CSVWriter", "SummaryWriter", "crc32c", "masked_crc32c", "read_events", "read_scalars"]


class CSVWriter:
    """Append dict rows to a CSV file; the columns are fixed by the first row (or by the existing header when
    appending to a file), values missing from a row are left empty. Each row reaches the file whole or not at all:
    a write that fails (a full disk) is taken back, so the file stays a valid CSV of the rows before it.

    ``write(row)`` adds a row (floats written with every digit), ``close()`` closes the file. CSVLogger writes
    with it.

    Args:
        path (str or os.PathLike): the CSV file (its directory is created).
        fieldnames (list[str], optional): the columns. Default: None (the first row's keys, or the existing
            header when appending).
        append (bool): add rows to an existing file instead of overwriting it. Default: False.
        separator (str): the column separator. Default: ``","``.

    PyTorch:
        No PyTorch counterpart: ember's own (like Python's ``csv.DictWriter``, with a row written whole or not).

    Example:
        >>> log = ember.train.CSVWriter("log.csv")
        >>> log.write({"epoch": 0, "loss": 0.5}); log.write({"epoch": 1}); log.close()
        >>> open("log.csv").read().split()
        ['epoch,loss', '0,0.5', '1,']
    """

    def __init__(self, path, fieldnames=None, append=False, separator=","):
        self.path, self.separator = os.fspath(path), separator
        self.fieldnames = list(fieldnames) if fieldnames else None
        resuming = append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if resuming and self.fieldnames is None:
            with open(self.path, newline="") as f:
                self.fieldnames = next(csv.reader(f, delimiter=separator))
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._file = open(self.path, "ab" if append else "wb", buffering=0)
        self._header_written = resuming

    def write(self, row):
        if self.fieldnames is None:
            self.fieldnames = list(row)
        text = io.StringIO()
        writer = csv.DictWriter(text, self.fieldnames, delimiter=self.separator, restval="", extrasaction="ignore")
        if not self._header_written:
            writer.writeheader()
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
        self._append(text.getvalue().encode("utf-8"))
        self._header_written = True

    def _append(self, data):
        start = os.fstat(self._file.fileno()).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[self._file.write(view):]
        except OSError as e:
            with contextlib.suppress(OSError):
                self._file.truncate(start)
                self._file.seek(start)
            if e.filename is None:
                e.filename = self.path
            raise

    def close(self):
        self._file.close()


def _csv_value(v):
    return repr(v) if isinstance(v, float) else v  # repr keeps every digit of a float


# --- CRC32C (Castagnoli), as TFRecord uses -------------------------------------------------------------------
def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC-32C of bytes."""
    crc, table = 0xFFFFFFFF, _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """The masked CRC that TFRecord stores: rotate right by 15 bits and add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --- protobuf encoding for the fields we need ---------------------------------------------------------------
def _varint(n):
    n &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf encodes them
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, wire_type):
    return _varint(number << 3 | wire_type)


def _bytes_field(number, payload):
    return _field(number, 2) + _varint(len(payload)) + payload


def _event(wall_time, step=None, file_version=None, summary=None, session_log=None):
    msg = _field(1, 1) + struct.pack("<d", wall_time)
    if step is not None:
        msg += _field(2, 0) + _varint(int(step))
    if file_version is not None:
        msg += _bytes_field(3, file_version.encode())
    if summary is not None:
        msg += _bytes_field(5, summary)
    if session_log is not None:
        msg += _bytes_field(7, _int_field(1, session_log))  # SessionLog { SessionStatus status = 1; }
    return msg


def _scalar_summary(scalars):
    values = b"".join(_bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value))
                      for tag, value in scalars.items())
    return values


def _int_field(number, n):
    return _field(number, 0) + _varint(int(n))


def _double_field(number, x):
    return _field(number, 1) + struct.pack("<d", x)


def _packed_doubles(number, values):
    values = [float(v) for v in values]
    return _bytes_field(number, struct.pack(f"<{len(values)}d", *values))


def _summary_value(tag, metadata=None, simple_value=None, image=None, histo=None, tensor=None):
    """One ``Summary.value`` entry: Value { string tag = 1; float simple_value = 2; Image image = 4;
    HistogramProto histo = 5; TensorProto tensor = 8; SummaryMetadata metadata = 9; }."""
    msg = _bytes_field(1, tag.encode())
    if simple_value is not None:
        msg += _field(2, 5) + struct.pack("<f", simple_value)
    if image is not None:
        msg += _bytes_field(4, image)
    if histo is not None:
        msg += _bytes_field(5, histo)
    if tensor is not None:
        msg += _bytes_field(8, tensor)
    if metadata is not None:
        msg += _bytes_field(9, metadata)
    return _bytes_field(1, msg)


def _plugin_metadata(plugin_name, content=b""):
    """SummaryMetadata { PluginData plugin_data = 1 { string plugin_name = 1; bytes content = 2; } }."""
    data = _bytes_field(1, plugin_name.encode()) + (_bytes_field(2, content) if content else b"")
    return _bytes_field(1, data)


_DT_FLOAT, _DT_DOUBLE, _DT_STRING = 1, 2, 7  # TensorFlow's DataType enum


def _numpy(x):
    """An array from a tensor (ember's or another framework's: detached, on the CPU), an array or a number."""
    for step in ("detach", "cpu", "numpy"):
        if hasattr(x, step):
            x = getattr(x, step)()
    return np.asarray(x)


def _scalar(value):
    a = _numpy(value).squeeze()
    if a.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given size: {a.size} and "
                             f"{a.ndim} dimensions.")
    return float(a)


def _default_bins():
    """TensorFlow's histogram buckets, as torch's SummaryWriter uses for bins='tensorflow': +-1e-12 * 1.1**k
    up to 1e20, and 0."""
    v, buckets = 1e-12, []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    return [-b for b in reversed(buckets)] + [0] + buckets


_TF_BINS = _default_bins()


def _histogram(values, bins, max_bins=None):
    """HistogramProto { double min = 1, max = 2, num = 3, sum = 4, sum_squares = 5; repeated double bucket_limit
    = 6, bucket = 7; } of the values, computed as torch.utils.tensorboard.summary.make_histogram."""
    values = _numpy(values).astype(float).reshape(-1)
    if values.size == 0:
        raise ValueError("The input has no element.")
    counts, limits = np.histogram(values, bins=_TF_BINS if isinstance(bins, str) and bins == "tensorflow" else bins)
    if max_bins is not None and len(counts) > max_bins:
        subsampling = len(counts) // max_bins
        remainder = len(counts) % subsampling
        if remainder:
            counts = np.pad(counts, pad_width=[[0, subsampling - remainder]], mode="constant", constant_values=0)
        counts = counts.reshape(-1, subsampling).sum(axis=-1)
        new_limits = np.empty((counts.size + 1,), limits.dtype)
        new_limits[:-1] = limits[:-1:subsampling]
        new_limits[-1] = limits[-1]
        limits = new_limits
    # keep the bins from the first to the last non-empty one, and one empty bin on the left (TensorBoard draws
    # only the right limits)
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return _histogram_raw(values.min(), values.max(), len(values), values.sum(), values.dot(values), limits, counts)


def _histogram_raw(min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    return (_double_field(1, float(min)) + _double_field(2, float(max)) + _double_field(3, float(num))
            + _double_field(4, float(sum)) + _double_field(5, float(sum_squares))
            + _packed_doubles(6, bucket_limits) + _packed_doubles(7, bucket_counts))


def _make_grid(images, ncols=8):
    """(3, H*rows, W*cols) canvas of an (N, 1 or 3, H, W) batch, 8 images a row (torch's make_grid for
    TensorBoard)."""
    if images.shape[1] == 1:
        images = np.concatenate([images, images, images], 1)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"add_image: a batch of images needs 1 or 3 channels, got shape {images.shape}")
    n, _, h, w = images.shape
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    canvas = np.zeros((3, h * nrows, w * ncols), dtype=images.dtype)
    for i in range(n):
        y, x = divmod(i, ncols)
        canvas[:, y * h:(y + 1) * h, x * w:(x + 1) * w] = images[i]
    return canvas


def _to_hwc(array, dataformats):
    """An image array in the layout dataformats (NCHW, NHWC, CHW, HWC, HW, ...) as HWC with 3 or 4 channels (a
    batch laid out as a grid, gray made RGB), as torch's convert_to_HWC."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt):
        raise ValueError(f"add_image: dataformats {dataformats!r} repeats a letter")
    if array.ndim != len(fmt):
        raise ValueError(f"add_image: an image of shape {array.shape} does not match dataformats {dataformats!r}")
    if len(fmt) == 4:
        return _make_grid(array.transpose([fmt.find(c) for c in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = array.transpose([fmt.find(c) for c in "HWC"])
        return np.concatenate([hwc, hwc, hwc], 2) if hwc.shape[2] == 1 else hwc
    if len(fmt) == 2:
        hw = array.transpose([fmt.find(c) for c in "HW"])
        return np.stack([hw, hw, hw], 2)
    raise ValueError(f"add_image: dataformats must have 2, 3 or 4 letters, got {dataformats!r}")


def _png(hwc):
    """A PNG file of an (H, W, C) uint8 image (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)."""
    h, w, c = hwc.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(hwc).reshape(h, w * c)], 1)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))


def _image(img, dataformats):
    """Summary.Image { int32 height = 1, width = 2, colorspace = 3; bytes encoded_image_string = 4; }: a PNG of
    the image, scaled by 255 unless it is uint8 and cut to [0, 255], as torch's summary.image."""
    a = _numpy(img)
    hwc = _to_hwc(a, dataformats)
    scale = 1 if hwc.dtype == np.uint8 else 255
    hwc = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    h, w, c = hwc.shape
    return _int_field(1, h) + _int_field(2, w) + _int_field(3, c) + _bytes_field(4, _png(hwc))


def _text_tensor(text):
    """TensorProto { DataType dtype = 1 (DT_STRING); TensorShapeProto tensor_shape = 2 ([1]); bytes string_val =
    8; } holding one string."""
    shape = _bytes_field(2, _int_field(1, 1))  # TensorShapeProto { Dim dim = 2 { int64 size = 1; } }
    return _int_field(1, _DT_STRING) + _bytes_field(2, shape) + _bytes_field(8, text.encode("utf_8"))


# --- the hparams plugin (tensorboard/plugins/hparams: api.proto, plugin_data.proto) ------------------------------
_HP_EXPERIMENT, _HP_START, _HP_END = "_hparams_/experiment", "_hparams_/session_start_info", \
    "_hparams_/session_end_info"
_HP_FLOAT64, _HP_STRING, _HP_SUCCESS = 3, 1, 1  # DataType.DATA_TYPE_FLOAT64, DATA_TYPE_STRING, Status.STATUS_SUCCESS


def _pb_value(v):
    """google.protobuf.Value { double number_value = 2; string string_value = 3; }."""
    return _bytes_field(3, v.encode()) if isinstance(v, str) else _double_field(2, float(v))


def _hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The (experiment, session start, session end) summaries of the hparams plugin, as torch's
    summary.hparams: numbers (bools included, as in PyTorch) are FLOAT64 hyper-parameters, strings STRING ones."""
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in hparam_domain_discrete.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k]))
                                                                       for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")
    infos, start = [], b""
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if not isinstance(v, (int, float, str)):
            if not hasattr(v, "shape"):
                raise ValueError("value should be one of int, float, str, bool, or ember.Tensor")
            v = float(_numpy(v).reshape(-1)[0])
        kind = _HP_STRING if isinstance(v, str) else _HP_FLOAT64
        start += _bytes_field(1, _bytes_field(1, k.encode()) + _bytes_field(2, _pb_value(v)))  # map entry
        info = _bytes_field(1, k.encode()) + _int_field(4, kind)
        if k in hparam_domain_discrete:
            info += _bytes_field(5, b"".join(_bytes_field(1, _pb_value(d)) for d in hparam_domain_discrete[k]))
        infos.append(_bytes_field(4, info))
    metrics = b"".join(_bytes_field(5, _bytes_field(1, _bytes_field(2, k.encode()))) for k in metric_dict)

    def summary(tag, field, message):  # HParamsPluginData { int32 version = 1 (0); oneof data = 2, 3, 4; }
        return _summary_value(tag, metadata=_plugin_metadata("hparams", _bytes_field(field, message)))
    return (summary(_HP_EXPERIMENT, 2, b"".join(infos) + metrics), summary(_HP_START, 3, start),
            summary(_HP_END, 4, _int_field(1, _HP_SUCCESS)))


def _record(data):
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


_counter = 0


class SummaryWriter:
    """Write TensorBoard event files in log_dir, with the API of PyTorch's torch.utils.tensorboard.SummaryWriter
    (ember.utils.tensorboard.SummaryWriter is this class): ``add_scalar``, ``add_scalars``, ``add_histogram``,
    ``add_image``/``add_images``, ``add_text``, ``add_hparams``, ``flush``, ``close``, and ``with`` closes it. No
    TensorFlow or tensorboard package is needed to write; view with ``tensorboard --logdir runs``.

    ``SummaryWriter(log_dir=None, comment='', purge_step=None, max_queue=10, flush_secs=120,
    filename_suffix='')``: log_dir defaults to runs/<date>_<host><comment>; events reach the disk after max_queue
    of them or flush_secs seconds (checked at each write), and at flush() and close().

    Args:
        log_dir (str or os.PathLike, optional): the directory of the event file. Default: None
            (runs/<date>_<host><comment>).
        comment (str): appended to the default log_dir (ignored with a log_dir). Default: ``""``.
        purge_step (int, optional): TensorBoard hides the events at steps >= purge_step written to log_dir
            before (a run resumed from a checkpoint). Default: None.
        max_queue (int): the number of events written before a flush. Default: 10.
        flush_secs (float): the most seconds between two flushes (checked at each write). Default: 120.
        filename_suffix (str): appended to the event file's name. Default: ``""``.

    PyTorch:
        ``torch.utils.tensorboard.SummaryWriter``; the same arguments and event files. It writes in the caller's
        thread (PyTorch's in a thread of its own), and has only the methods listed above: no add_graph,
        add_embedding, add_figure, add_pr_curve, add_video, add_audio, add_mesh, add_custom_scalars or add_tensor.

    Example:
        >>> with ember.train.SummaryWriter("runs/demo") as w:
        ...     w.add_scalar("loss", 0.5, global_step=1)
        >>> ember.train.read_scalars("runs/demo")
        {'loss': [(1, 0.5)]}

        In a script, writing to a temporary directory::

            import tempfile
            with SummaryWriter(tempfile.mkdtemp()) as w:
                w.add_scalar("loss", 0.5, 1)
                w.add_text("note", "first run", 1)
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if not log_dir:
            log_dir = os.path.join("runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname()
                                   + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step, self.max_queue, self.flush_secs = purge_step, max_queue, flush_secs
        self.filename_suffix = filename_suffix
        self._file, self._sub_writers = None, {}
        self._open()

    def _open(self):
        global _counter
        _counter += 1
        os.makedirs(self.log_dir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{_counter}"
        self.path = os.path.join(self.log_dir, name + self.filename_suffix)
        self._file = open(self.path, "wb")
        self._pending, self._flushed_at = 0, time.time()
        step = self.purge_step
        self._file.write(_record(_event(time.time(), step=step or 0, file_version="brain.Event:2")))
        if step is not None:  # TensorBoard hides the events at steps >= purge_step written before this START
            self._file.write(_record(_event(time.time(), step=step, session_log=1)))
            self.purge_step = None
        self._file.flush()

    def get_logdir(self):
        """The directory the event files are written in.

        Returns:
            str: log_dir.

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.get_logdir``; same semantics.

        Example:
            >>> ember.train.SummaryWriter("runs/demo").get_logdir()
            'runs/demo'
        """
        return self.log_dir

    def _add_summary(self, summary, global_step=None, walltime=None):
        if self._file is None:  # written after close(): a new event file, as PyTorch's writer does
            self._open()
        step = None if global_step is None else int(global_step)
        self._file.write(_record(_event(time.time() if walltime is None else walltime, step, summary=summary)))
        self._pending += 1
        if self._pending >= self.max_queue or time.time() - self._flushed_at >= self.flush_secs:
            self.flush()

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False) -> None:
        """One scalar (a number, or a one-element tensor or array) at a step. new_style writes it as a tensor of
        the scalars plugin (float64 with double_precision), as PyTorch does.

        Args:
            tag (str): the chart's name (``"train/loss"`` groups charts under ``train``).
            scalar_value (float or Tensor): the value (a one-element tensor or array is read).
            global_step (int, optional): the step it is recorded at. Default: None (0).
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).
            new_style (bool): write a tensor summary instead of a simple value. Default: False.
            double_precision (bool): with new_style, keep the value as float64. Default: False.

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_scalar``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_scalar("loss", ember.tensor(0.25), global_step=3); w.close()
            >>> ember.train.read_scalars("runs/demo")
            {'loss': [(3, 0.25)]}
        """
        value = _scalar(scalar_value)
        if new_style:
            tensor = (_int_field(1, _DT_DOUBLE) + _bytes_field(6, struct.pack("<d", value)) if double_precision
                      else _int_field(1, _DT_FLOAT) + _bytes_field(5, struct.pack("<f", value)))
            summary = _summary_value(tag, metadata=_plugin_metadata("scalars"), tensor=tensor)
        else:
            summary = _summary_value(tag, simple_value=value)
        self._add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None) -> None:
        """Several scalars on one chart: each ``tag: value`` goes to its own run, log_dir/<main_tag>_<tag>, under
        the tag main_tag (PyTorch's layout).

        Args:
            main_tag (str): the chart's name.
            tag_scalar_dict (dict[str, float]): a value per curve.
            global_step (int, optional): the step it is recorded at. Default: None (0).
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_scalars``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_scalars("loss", {"train": 0.5, "val": 0.75}, global_step=1); w.close()
            >>> ember.train.read_scalars("runs/demo/loss_val")
            {'loss': [(1, 0.75)]}
        """
        for tag, value in tag_scalar_dict.items():
            path = os.path.join(self.log_dir, main_tag.replace("/", "_") + "_" + tag)
            writer = self._sub_writers.get(path)
            if writer is None:
                writer = self._sub_writers[path] = SummaryWriter(path, max_queue=self.max_queue,
                                                                 flush_secs=self.flush_secs,
                                                                 filename_suffix=self.filename_suffix)
            writer._add_summary(_summary_value(main_tag, simple_value=_scalar(value)), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None) -> None:
        """A histogram of values (any shape). bins: 'tensorflow' (TensorBoard's exponential buckets, the
        default), or anything numpy.histogram takes (a count, edges, 'auto', ...).

        Args:
            tag (str): the chart's name.
            values (Tensor or array): the values (flattened).
            global_step (int, optional): the step it is recorded at. Default: None (0).
            bins (str, int or sequence): the buckets. Default: ``"tensorflow"``.
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).
            max_bins (int, optional): merge buckets down to at most this many. Default: None.

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_histogram``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_histogram("weights", ember.randn(1000), global_step=1); w.close()
            >>> [e["step"] for e in ember.train.read_events(w.path)]  # the file's header, then this event
            [0, 1]
        """
        self._add_summary(_summary_value(tag, histo=_histogram(values, bins, max_bins)), global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts,
                          global_step=None, walltime=None) -> None:
        """A histogram given by its statistics and buckets (bucket_limits are the right edges).

        Args:
            tag (str): the chart's name.
            min, max (float): the smallest and largest value.
            num (int): the number of values.
            sum, sum_squares (float): the sum of the values and of their squares.
            bucket_limits (sequence of float): the right edge of each bucket.
            bucket_counts (sequence of int): the number of values in each bucket (as many as bucket_limits).
            global_step (int, optional): the step it is recorded at. Default: None (0).
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_histogram_raw``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_histogram_raw("h", min=0.0, max=2.0, num=3, sum=3.0, sum_squares=5.0,
            ...                     bucket_limits=[1.0, 2.0], bucket_counts=[1, 2], global_step=1); w.close()
            >>> [e["step"] for e in ember.train.read_events(w.path)]  # the file's header, then this event
            [0, 1]
        """
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        histo = _histogram_raw(min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
        self._add_summary(_summary_value(tag, histo=histo), global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW") -> None:
        """An image: a tensor or array laid out as dataformats ('CHW' default, 'HWC', 'HW'; 'NCHW' for a grid),
        float in [0, 1] or uint8 in [0, 255]; 1, 3 or 4 channels. Stored as PNG.

        Args:
            tag (str): the image's name.
            img_tensor (Tensor or array): the image.
            global_step (int, optional): the step it is recorded at. Default: None (0).
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).
            dataformats (str): the layout of img_tensor. Default: ``"CHW"``.

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_image``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_image("sample", ember.rand(3, 8, 8), global_step=1); w.close()
            >>> [e["step"] for e in ember.train.read_events(w.path)]  # the file's header, then this event
            [0, 1]
        """
        self._add_summary(_summary_value(tag, image=_image(img_tensor, dataformats)), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW") -> None:
        """A batch of images (N, C, H, W by default), shown as one grid of 8 a row.

        Args:
            tag (str): the grid's name.
            img_tensor (Tensor or array): the images.
            global_step (int, optional): the step it is recorded at. Default: None (0).
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).
            dataformats (str): the layout of img_tensor. Default: ``"NCHW"``.

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_images``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_images("batch", ember.rand(4, 1, 8, 8), global_step=1); w.close()
            >>> [e["step"] for e in ember.train.read_events(w.path)]  # the file's header, then this event
            [0, 1]
        """
        self.add_image(tag, img_tensor, global_step, walltime, dataformats)

    def add_text(self, tag, text_string, global_step=None, walltime=None) -> None:
        """Text (Markdown) for TensorBoard's text tab, under tag + '/text_summary' as PyTorch writes it.

        Args:
            tag (str): the text's name.
            text_string (str): the text.
            global_step (int, optional): the step it is recorded at. Default: None (0).
            walltime (float, optional): its time in seconds since the epoch. Default: None (now).

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_text``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_text("notes", "lr **0.1**, no augmentation", global_step=1); w.close()
            >>> [e["step"] for e in ember.train.read_events(w.path)]  # the file's header, then this event
            [0, 1]
        """
        summary = _summary_value(tag + "/text_summary", metadata=_plugin_metadata("text"),
                                 tensor=_text_tensor(text_string))
        self._add_summary(summary, global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None) -> None:
        """Hyper-parameters (numbers, strings, bools) and their metrics for TensorBoard's HParams tab, written as
        PyTorch does to a run of their own, log_dir/<run_name> (default: the time), with the metrics as
        scalars there.

        Args:
            hparam_dict (dict): {name: number, string or bool} of the run's hyper-parameters.
            metric_dict (dict): {tag: float} of its results.
            hparam_domain_discrete (dict, optional): {name: list of the values it can take}. Default: None.
            run_name (str, optional): the run's sub-directory. Default: None (the time).
            global_step (int, optional): the step it is recorded at. Default: None (0).

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.add_hparams``; same arguments.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_hparams({"lr": 0.1, "optimizer": "sgd"}, {"hparam/loss": 0.5}, run_name="trial1")
            >>> ember.train.read_scalars("runs/demo/trial1")
            {'hparam/loss': [(0, 0.5)]}
        """
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        summaries = _hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        with SummaryWriter(os.path.join(self.log_dir, run_name or str(time.time()))) as w:
            for summary in summaries:
                w._add_summary(summary, global_step)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def flush(self) -> None:
        """Write the pending events to disk (those of add_scalars' runs too).

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.flush``; same semantics.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_scalar("loss", 0.5, 1); w.flush()
            >>> ember.train.read_scalars("runs/demo")
            {'loss': [(1, 0.5)]}
        """
        for f in [self] + list(self._sub_writers.values()):
            if f._file is not None:
                f._file.flush()
                f._pending, f._flushed_at = 0, time.time()

    def close(self) -> None:
        """Flush and close the event files (a later add_* starts a new file); ``with`` calls it at the end.

        PyTorch:
            ``torch.utils.tensorboard.SummaryWriter.close``; same semantics.

        Example:
            >>> w = ember.train.SummaryWriter("runs/demo")
            >>> w.add_scalar("loss", 0.5, 1); w.close()
            >>> ember.train.read_scalars("runs/demo")
            {'loss': [(1, 0.5)]}
        """
        for w in list(self._sub_writers.values()):
            w.close()
        self._sub_writers = {}
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- reading back (used by tests, and handy without TensorBoard) --------------------------------------------
def _read_varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    """(number, wire_type, value) for each field of a protobuf message; length-delimited values are bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"read_events: unsupported protobuf wire type {wire}")
        yield number, wire, value


def _decode_event(data):
    event = {"wall_time": None, "step": 0, "scalars": {}}
    for number, wire, value in _fields(data):
        if number == 1 and wire == 1:
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif number == 2 and wire == 0:
            event["step"] = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 3 and wire == 2:
            event["file_version"] = value.decode()
        elif number == 5 and wire == 2:
            for vnum, _, val in _fields(value):
                if vnum != 1:
                    continue
                tag, simple = None, None
                for fnum, fwire, f in _fields(val):
                    if fnum == 1 and fwire == 2:
                        tag = f.decode()
                    elif fnum == 2 and fwire == 5:
                        simple = struct.unpack("<f", f)[0]
                if tag is not None and simple is not None:
                    event["scalars"][tag] = simple
    return event


def read_events(path):
    """Read the events of a TensorBoard event file, checking every record's CRC.

    Args:
        path (str or os.PathLike): the event file.

    Returns:
        list[dict]: one dict per event: ``wall_time``, ``step``, ``scalars`` ({tag: value} of its simple values)
        and, for the file's first event, ``file_version``.

    PyTorch:
        No PyTorch counterpart: ember's own (like tensorboard's ``summary_iterator``, decoding scalars only); a
        truncated or corrupted file raises ValueError.

    Example:
        >>> with ember.train.SummaryWriter("runs/demo") as w:
        ...     w.add_scalar("loss", 0.5, global_step=1)
        >>> [(e["step"], e["scalars"]) for e in ember.train.read_events(w.path)]
        [(0, {}), (1, {'loss': 0.5})]
    """
    with open(path, "rb") as f:
        buf = f.read()
    events, pos = [], 0
    while pos < len(buf):
        if len(buf) - pos < 12:
            raise ValueError(f"read_events: {path} ends with a truncated record at byte {pos}")
        header = buf[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", buf[pos + 8:pos + 12])
        if crc != masked_crc32c(header):
            raise ValueError(f"read_events: bad length CRC in {path} at byte {pos}")
        data = buf[pos + 12:pos + 12 + n]
        if len(data) != n or len(buf) < pos + 16 + n:
            raise ValueError(f"read_events: {path} ends with a truncated record at byte {pos}")
        (crc,) = struct.unpack("<I", buf[pos + 12 + n:pos + 16 + n])
        if crc != masked_crc32c(data):
            raise ValueError(f"read_events: bad data CRC in {path} at byte {pos}")
        events.append(_decode_event(data))
        pos += 16 + n
    return events


def read_scalars(path):
    """Read the scalars of an event file, or of every event file in a directory (not its sub-directories).

    Args:
        path (str or os.PathLike): an event file, or a run's directory.

    Returns:
        dict[str, list[tuple[int, float]]]: {tag: [(step, value), ...]} in the order they were written (float32
        values, as TensorBoard stores them).

    PyTorch:
        No PyTorch counterpart: ember's own (like tensorboard's ``EventAccumulator(path).Scalars(tag)``).

    Example:
        >>> with ember.train.SummaryWriter("runs/demo") as w:
        ...     w.add_scalar("loss", 0.5, 1); w.add_scalar("loss", 0.25, 2)
        >>> ember.train.read_scalars("runs/demo")
        {'loss': [(1, 0.5), (2, 0.25)]}
    """
    paths = sorted(glob.glob(os.path.join(path, "*tfevents*"))) if os.path.isdir(path) else [path]
    out = {}
    for p in paths:
        for event in read_events(p):
            for tag, value in event["scalars"].items():
                out.setdefault(tag, []).append((event["step"], value))
    return out
