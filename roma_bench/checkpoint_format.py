"""Checkpoint files without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is one ``.safetensors`` file. Its tensors are the model weights and every
tensor of the training state (optimizer moments, RNG states, ...); its header metadata
holds, under the key ``roma_bench``, a JSON document::

    {"format": "roma-bench-checkpoint/1", "payload": <skeleton>}

where ``<skeleton>`` is the checkpoint's nested payload (model name, size, config, task
spec, step, bookkeeping, optimizer param groups, ...) with every tensor replaced by
``{"__tensor__": "<name in the safetensors file>"}``. JSON cannot say everything Python
data can, so three more markers keep a payload exact: ``{"__tuple__": [...]}``,
``{"__float__": "inf" | "-inf" | "nan"}`` and ``{"__items__": [[key, value], ...]}`` for a
dict whose keys are not all strings (the optimizer's ``state`` is keyed by parameter index).
Floats are written with ``repr`` and read back bit for bit, so a resumed run stays
bit-identical to an uninterrupted one.

Reading never unpickles: the header is parsed as JSON and the tensors are read by
``safetensors``. Old pickled checkpoints (``torch.save`` zip or pickle files) are
refused with :class:`LegacyCheckpointError`, whose message says how to convert a
trusted one (:func:`convert_legacy_checkpoint`, ``roma-bench convert-checkpoint --trust``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from roma_bench.errors import FaultError, InputError, MissingPathError
from roma_bench.files import atomic_path

FORMAT = "roma-bench-checkpoint/1"
METADATA_KEY = "roma_bench"
SUFFIX = ".safetensors"
_PICKLE_PROTO = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(FaultError):
    """A checkpoint file is damaged or not a roma-bench checkpoint (exit code 1)."""


class LegacyCheckpointError(InputError):
    """A pickled (``torch.save``) checkpoint was given; it is refused, never unpickled."""


def legacy_message(path: Path) -> str:
    """The refusal for a pickled checkpoint, with the command that converts a trusted one."""
    return (
        f"checkpoint {path}: a pickled torch.save file, refused (loading it could run code, "
        f"CVE-2025-32434); if you trust its origin, convert it with "
        f"'roma-bench convert-checkpoint {path} --trust' (writes "
        f"{path.with_suffix(SUFFIX)})"
    )


def is_pickled(path: Path) -> bool:
    """True when ``path`` starts like a ``torch.save`` zip archive or a raw pickle.

    A safetensors file starts with its 8-byte header length, which may begin with the
    pickle protocol byte too, so a readable safetensors header wins.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not (head.startswith(_ZIP_MAGIC) or head[:1] == _PICKLE_PROTO):
        return False
    try:
        _header(path)
    except CheckpointError:
        return True
    return False


def _encode(value: Any, name: str, tensors: dict[str, torch.Tensor]) -> Any:
    """The JSON skeleton of ``value``; its tensors go to ``tensors`` under unique names."""
    if isinstance(value, torch.Tensor):
        key = name or "tensor"
        while key in tensors:
            key += "_"
        # A private contiguous CPU copy: safetensors refuses tensors sharing storage.
        tensors[key] = value.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{name}.{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{name}.{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        prefix = f"{name}." if name else ""
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v, f"{prefix}{k}", tensors) for k, v in value.items()}
        return {
            "__items__": [
                [_encode(k, "", {}), _encode(v, f"{prefix}{k}", tensors)] for k, v in value.items()
            ]
        }
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint (at {name!r})")


def _decode(value: Any, tensors: dict[str, torch.Tensor] | None) -> Any:
    """Inverse of :func:`_encode`; with ``tensors=None`` tensors are left as ``None``."""
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return None if tensors is None else tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__items__" in value:
        return {_decode(k, None): _decode(v, tensors) for k, v in value["__items__"]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def write_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` (nested dicts/lists of tensors and plain data) to ``path``.

    The file is written next to ``path`` and renamed over it, so a crash or a full disk
    leaves the previous checkpoint intact.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(payload, "", tensors)
    metadata = {METADATA_KEY: json.dumps({"format": FORMAT, "payload": skeleton})}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except OSError:
            raise
        except Exception as err:  # safetensors reports I/O errors (a full disk) as its own type
            raise CheckpointError(f"checkpoint {path}: cannot be written ({err})") from err
    return path


def _header(path: Path) -> dict[str, Any]:
    """The parsed JSON header of a safetensors file (no tensor data is read)."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"checkpoint {path}: damaged (truncated header)")
        size = int.from_bytes(raw, "little")
        if size > 100_000_000 or size > path.stat().st_size - 8:
            raise CheckpointError(f"checkpoint {path}: damaged (header length {size})")
        try:
            header = json.loads(handle.read(size))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CheckpointError(f"checkpoint {path}: damaged (unreadable header)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"checkpoint {path}: damaged (unreadable header)")
    return header


def read_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", *, tensors: bool = True
) -> dict[str, Any]:
    """The payload written by :func:`write_checkpoint`; never unpickles anything.

    ``tensors=False`` reads only the JSON metadata (tensors come back as ``None``), which is
    cheap for multi-GB weights. Raises :class:`~roma_bench.errors.MissingPathError` for a missing file,
    :class:`LegacyCheckpointError` for a pickled one and :class:`CheckpointError` for a
    damaged one.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"checkpoint {path}: no such file")
    try:
        header = _header(path)
    except CheckpointError:
        if is_pickled(path):
            raise LegacyCheckpointError(legacy_message(path)) from None
        raise
    try:
        document = json.loads(header["__metadata__"][METADATA_KEY])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise CheckpointError(
            f"checkpoint {path}: not a roma-bench checkpoint (no '{METADATA_KEY}' metadata)"
        ) from None
    if document.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: format {document.get('format')!r}, this version reads {FORMAT!r}"
        )
    loaded = None
    if tensors:
        from safetensors.torch import load_file

        try:
            loaded = load_file(path, device=str(map_location))
        except Exception as err:  # safetensors raises its own error types for damage
            raise CheckpointError(f"checkpoint {path}: damaged ({err})") from None
    try:
        return _decode(document["payload"], loaded)
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint {path}: damaged (missing tensor {err})") from None


def convert_legacy_checkpoint(
    source: str | Path, target: str | Path | None, *, trust: bool
) -> Path:
    """Rewrite a trusted pickled checkpoint ``source`` in the safetensors format.

    Unpickling runs whatever code the file asks for, so this refuses unless ``trust`` is
    True; even then it loads with ``torch.load(weights_only=True)`` (refusing anything but
    tensors and plain data). ``target`` defaults to ``source`` with the ``.safetensors``
    suffix.
    """
    source = Path(source)
    if not source.is_file():
        raise MissingPathError(f"checkpoint {source}: no such file")
    if not trust:
        raise InputError(
            f"checkpoint {source}: converting unpickles the file, which can run code; "
            "pass --trust only for a file whose origin you trust"
        )
    if not is_pickled(source):
        raise InputError(f"checkpoint {source}: not a pickled torch.save file; nothing to do")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {source}: refused by the weights-only loader ({type(err).__name__}); "
            "not converted"
        ) from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"checkpoint {source}: not a roma-bench checkpoint; not converted")
    return write_checkpoint(Path(target) if target else source.with_suffix(SUFFIX), payload)
