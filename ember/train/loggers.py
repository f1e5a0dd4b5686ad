"""Writers for training logs: CSV rows and TensorBoard event files (no TensorFlow needed).

A TensorBoard event file is a TFRecord stream: each record is ``uint64 length, uint32 masked_crc32c(length),
bytes data, uint32 masked_crc32c(data)`` (little-endian), and each data is a serialized ``Event`` protobuf. The
few protobuf fields needed for scalars are encoded by hand here:

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; }
"""
import csv
import glob
import os
import socket
import struct
import time

__all__ = ["CSVWriter", "SummaryWriter", "crc32c", "masked_crc32c", "read_events", "read_scalars"]


class CSVWriter:
    """Append dict rows to a CSV file; the columns are fixed by the first row (or by the existing header when
    appending to a file), values missing from a row are left empty. Each row is flushed as it is written."""

    def __init__(self, path, fieldnames=None, append=False, separator=","):
        self.path, self.separator = os.fspath(path), separator
        self.fieldnames = list(fieldnames) if fieldnames else None
        resuming = append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if resuming and self.fieldnames is None:
            with open(self.path, newline="") as f:
                self.fieldnames = next(csv.reader(f, delimiter=separator))
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._file = open(self.path, "a" if append else "w", newline="")
        self._writer = None
        self._header_written = resuming

    def write(self, row):
        if self.fieldnames is None:
            self.fieldnames = list(row)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, self.fieldnames, delimiter=self.separator, restval="",
                                          extrasaction="ignore")
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({k: _csv_value(v) for k, v in row.items()})
        self._file.flush()

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


def _event(wall_time, step=None, file_version=None, summary=None):
    msg = _field(1, 1) + struct.pack("<d", wall_time)
    if step is not None:
        msg += _field(2, 0) + _varint(int(step))
    if file_version is not None:
        msg += _bytes_field(3, file_version.encode())
    if summary is not None:
        msg += _bytes_field(5, summary)
    return msg


def _scalar_summary(scalars):
    values = b"".join(_bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value))
                      for tag, value in scalars.items())
    return values


def _record(data):
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


_counter = 0


class SummaryWriter:
    """Write scalars to a TensorBoard event file in log_dir (``add_scalar(tag, value, step)``, as PyTorch's
    torch.utils.tensorboard.SummaryWriter). View with ``tensorboard --logdir LOG_DIR``."""

    def __init__(self, log_dir="runs", filename_suffix=""):
        global _counter
        _counter += 1
        os.makedirs(log_dir, exist_ok=True)
        self.log_dir = os.fspath(log_dir)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{_counter}"
        self.path = os.path.join(self.log_dir, name + filename_suffix)
        self._file = open(self.path, "wb")
        self._file.write(_record(_event(time.time(), step=0, file_version="brain.Event:2")))
        self._file.flush()

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        self.add_scalars({tag: scalar_value}, global_step, walltime)

    def add_scalars(self, scalars, global_step=None, walltime=None):
        """Write several scalars (a dict tag -> value) as one event at one step."""
        summary = _scalar_summary({tag: float(v) for tag, v in scalars.items()})
        self._file.write(_record(_event(time.time() if walltime is None else walltime, global_step or 0,
                                        summary=summary)))

    def flush(self):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()

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
    """The events of an event file as dicts (wall_time, step, scalars, file_version), checking every CRC."""
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
    """{tag: [(step, value), ...]} from an event file, or from every event file in a directory."""
    paths = sorted(glob.glob(os.path.join(path, "*tfevents*"))) if os.path.isdir(path) else [path]
    out = {}
    for p in paths:
        for event in read_events(p):
            for tag, value in event["scalars"].items():
                out.setdefault(tag, []).append((event["step"], value))
    return out
