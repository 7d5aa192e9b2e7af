"""Video, Audio, Html, Object3D, Molecule and Plotly for `run.log` (W&B's names and arguments).

Each stores its bytes as a run file under `media/<kind>/` and logs a descriptor (`_type`: `video-file`,
`audio-file`, `html-file`, `object3D-file`, `molecule-file`, `plotly-file`), see docs/sdk.md. Encoding
uses only Pillow and the standard library: NumPy frames become an animated GIF, NumPy samples a 16-bit
WAV; files are stored as they are.
"""

from __future__ import annotations

import io
import json
import os
import sys
import wave
from pathlib import Path
from typing import Any

from ._media_base import Media, figure_png, file_entry, is_matplotlib_figure, is_pyplot, read_source, to_numpy

__all__ = ["Audio", "Html", "Molecule", "Object3D", "Plotly", "Video"]

VIDEO_FORMATS = ("gif", "mp4", "webm", "ogg")
AUDIO_FORMATS = ("wav", "mp3", "flac", "ogg", "m4a", "aac", "opus")
OBJECT3D_FORMATS = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")
MOLECULE_FORMATS = ("pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf")


def _caption(desc: dict[str, Any], caption: str | None) -> dict[str, Any]:
    if caption is not None:
        desc["caption"] = caption
    return desc


class Video(Media):
    """A video from a file (gif, mp4, webm, ogg) or a NumPy array of frames, shaped (time, channel,
    height, width) or (batch, time, channel, height, width) with uint8 (or [0, 1] float) values.
    Arrays are stored as an animated GIF at `fps` frames per second (default 4); a batch is tiled in a row.
    """

    _type = "video-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int | None = None,
                 format: str | None = None) -> None:
        self.caption = None if caption is None else str(caption)
        self.fps = int(fps) if fps else 4
        self.width: int | None = None
        self.height: int | None = None
        if isinstance(data_or_path, (str, os.PathLike)) or hasattr(data_or_path, "read"):
            self._data, ext = read_source(data_or_path, "runyard.Video")
            self.format = (ext or format or "").lower()
            if self.format not in VIDEO_FORMATS:
                raise ValueError(f"runyard.Video: the file must be one of {', '.join(VIDEO_FORMATS)}; got "
                                 f"{self.format or 'no extension'}")
            return
        if format not in (None, "gif"):
            print(f"runyard: Video frames are stored as a GIF (no {format} encoder is bundled)", file=sys.stderr)
        self.format = "gif"
        self._data = self._gif(to_numpy(data_or_path))

    def _gif(self, arr: Any) -> bytes:
        import numpy as np
        from PIL import Image as PILImage

        if arr.ndim == 5:  # (batch, time, c, h, w): tile the batch side by side
            arr = np.concatenate(list(arr), axis=-1)
        if arr.ndim != 4:
            raise ValueError(f"runyard.Video: expected (time, channel, height, width) frames, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            a = arr.astype(np.float64)
            if a.size and float(np.nanmax(a)) <= 1.0:
                a = a * 255.0
            arr = np.nan_to_num(a).clip(0, 255).astype(np.uint8)
        frames = np.transpose(arr, (0, 2, 3, 1))  # -> (time, h, w, c)
        if frames.shape[-1] == 1:
            frames = frames[..., 0]
        images = [PILImage.fromarray(f) for f in frames]
        if not images:
            raise ValueError("runyard.Video: no frames")
        self.width, self.height = images[0].size
        buf = io.BytesIO()
        images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(1, int(1000 / self.fps)), loop=0)
        return buf.getvalue()

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        desc: dict[str, Any] = {"_type": self._type, "format": self.format}
        desc.update(file_entry(files_dir, "videos", key, step, self._data, self.format))
        if self.width is not None:
            desc.update(width=self.width, height=self.height, fps=self.fps)
        return _caption(desc, self.caption)


class Audio(Media):
    """Audio from a file (wav, mp3, flac, ogg, ...) or a NumPy array of samples in [-1, 1] (mono, or
    (samples, channels)) with `sample_rate`; arrays are stored as a 16-bit WAV."""

    _type = "audio-file"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self.caption = None if caption is None else str(caption)
        self.sample_rate = sample_rate
        self.duration: float | None = None
        if isinstance(data_or_path, (str, os.PathLike)) or hasattr(data_or_path, "read"):
            self._data, ext = read_source(data_or_path, "runyard.Audio")
            self.format = ext or "wav"
            if self.format not in AUDIO_FORMATS:
                raise ValueError(f"runyard.Audio: the file must be one of {', '.join(AUDIO_FORMATS)}")
            if self.format == "wav":
                try:
                    with wave.open(io.BytesIO(self._data)) as w:
                        self.sample_rate = w.getframerate()
                        self.duration = w.getnframes() / float(w.getframerate())
                except (wave.Error, EOFError):
                    pass
            return
        if not sample_rate:
            raise ValueError("runyard.Audio: sample_rate is required for raw samples")
        import numpy as np

        samples = to_numpy(data_or_path).astype(np.float64)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2:
            raise ValueError(f"runyard.Audio: expected (samples,) or (samples, channels), got shape {samples.shape}")
        peak = float(np.nanmax(np.abs(samples))) if samples.size else 0.0
        if peak > 1.0:
            samples = samples / peak
        pcm = (np.nan_to_num(samples).clip(-1, 1) * 32767).astype("<i2")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(pcm.shape[1])
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            w.writeframes(pcm.tobytes())
        self._data = buf.getvalue()
        self.format = "wav"
        self.duration = pcm.shape[0] / float(sample_rate)

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        desc: dict[str, Any] = {"_type": self._type, "format": self.format}
        desc.update(file_entry(files_dir, "audio", key, step, self._data, self.format))
        if self.sample_rate:
            desc["sample_rate"] = int(self.sample_rate)
        if self.duration is not None:
            desc["duration"] = round(self.duration, 6)
        return _caption(desc, self.caption)


class Html(Media):
    """HTML from a string, a `.html` file path or an open file. Stored as a file; the UI shows it in a
    sandboxed frame. `inject` (W&B's extra stylesheet) is accepted and not used."""

    _type = "html-file"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        if isinstance(data, str) and not data_is_not_path and data.lower().endswith((".html", ".htm")) \
                and Path(data).is_file():
            self._data = Path(data).read_bytes()
        elif isinstance(data, str):
            self._data = data.encode("utf-8")
        else:
            self._data, _ = read_source(data, "runyard.Html")

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        desc: dict[str, Any] = {"_type": self._type}
        desc.update(file_entry(files_dir, "html", key, step, self._data, "html"))
        return desc


def _jsonable_points(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable_points(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable_points(v) for v in value]
    return value


class Object3D(Media):
    """A 3-D object: a file (obj, gltf, glb, babylon, stl, pts.json; an open file needs `file_type=`),
    a NumPy point cloud shaped (N, 3) xyz, (N, 4) xyz + category or (N, 6) xyz + rgb, or a scene dict
    `{"type": "lidar/beta", "points": ..., "boxes": [...], "vectors": [...]}`. Point clouds and scenes
    are stored as `.pts.json`."""

    _type = "object3D-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, file_type: str | None = None,
                 **_ignored: Any) -> None:
        self.caption = None if caption is None else str(caption)
        if isinstance(data_or_path, dict):
            scene = _jsonable_points(data_or_path)
            scene.setdefault("type", "lidar/beta")
            self._data = json.dumps(scene, allow_nan=False).encode()
            self.format = "pts.json"
            return
        if isinstance(data_or_path, (str, os.PathLike)) or hasattr(data_or_path, "read"):
            self._data, ext = read_source(data_or_path, "runyard.Object3D")
            self.format = (file_type or ext or "").lower().lstrip(".")
            if self.format not in OBJECT3D_FORMATS:
                raise ValueError(f"runyard.Object3D: the file must be one of {', '.join(OBJECT3D_FORMATS)} "
                                 f"(pass file_type= for an open file); got {self.format or 'no extension'}")
            return
        points = to_numpy(data_or_path)
        if points.ndim != 2 or points.shape[1] not in (3, 4, 6):
            raise ValueError(f"runyard.Object3D: a point cloud is (N, 3), (N, 4) or (N, 6); got shape {points.shape}")
        self._data = json.dumps({"type": "lidar/beta", "points": points.tolist()}, allow_nan=False).encode()
        self.format = "pts.json"

    @classmethod
    def from_point_cloud(cls, points: Any, boxes: Any = None, vectors: Any = None, point_cloud_type: str = "lidar/beta",
                         caption: str | None = None) -> Object3D:
        return cls({"type": point_cloud_type, "points": points, "boxes": boxes or [], "vectors": vectors or []},
                   caption=caption)

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        desc: dict[str, Any] = {"_type": self._type, "format": self.format}
        desc.update(file_entry(files_dir, "object3D", key, step, self._data, self.format))
        return _caption(desc, self.caption)


class Molecule(Media):
    """A molecule file (pdb, pqr, mmcif, mcif, cif, sdf, sd, gro, mol2, mmtf; an open file needs
    `file_type=`), stored as it is. `Molecule.from_smiles` and `from_rdkit` need RDKit installed."""

    _type = "molecule-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, file_type: str | None = None,
                 **_ignored: Any) -> None:
        self.caption = None if caption is None else str(caption)
        self._data, ext = read_source(data_or_path, "runyard.Molecule")
        self.format = (file_type or ext or "").lower().lstrip(".")
        if self.format not in MOLECULE_FORMATS:
            raise ValueError(f"runyard.Molecule: the file must be one of {', '.join(MOLECULE_FORMATS)}; "
                             f"got {self.format or 'no extension'}")

    @classmethod
    def from_rdkit(cls, data_or_path: Any, caption: str | None = None, convert_to_3d_and_optimize: bool = True,
                   mmff_optimize_molecule_max_iterations: int = 200) -> Molecule:
        try:
            from rdkit import Chem
            from rdkit.Chem import AllChem
        except ImportError:
            raise ImportError("runyard.Molecule.from_rdkit needs RDKit: pip install rdkit") from None
        mol = Chem.MolFromMolFile(str(data_or_path)) if isinstance(data_or_path, (str, os.PathLike)) else data_or_path
        if convert_to_3d_and_optimize:
            mol = Chem.AddHs(mol)
            AllChem.EmbedMolecule(mol)
            AllChem.MMFFOptimizeMolecule(mol, maxIters=mmff_optimize_molecule_max_iterations)
        return cls(io.StringIO(Chem.MolToPDBBlock(mol)), caption=caption, file_type="pdb")

    @classmethod
    def from_smiles(cls, data: str, caption: str | None = None, sanitize: bool = True,
                    convert_to_3d_and_optimize: bool = True, mmff_optimize_molecule_max_iterations: int = 200) -> Molecule:
        try:
            from rdkit import Chem
        except ImportError:
            raise ImportError("runyard.Molecule.from_smiles needs RDKit: pip install rdkit") from None
        mol = Chem.MolFromSmiles(data, sanitize=sanitize)
        if mol is None:
            raise ValueError(f"runyard.Molecule.from_smiles: {data!r} is not a valid SMILES string")
        return cls.from_rdkit(mol, caption=caption, convert_to_3d_and_optimize=convert_to_3d_and_optimize,
                              mmff_optimize_molecule_max_iterations=mmff_optimize_molecule_max_iterations)

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        desc: dict[str, Any] = {"_type": self._type, "format": self.format}
        desc.update(file_entry(files_dir, "molecule", key, step, self._data, self.format))
        return _caption(desc, self.caption)


class Plotly(Media):
    """A plotly figure, stored as its JSON (the UI draws it with plotly.js). A matplotlib figure given
    here is stored as an image instead (its conversion to plotly is not reliable), with a warning."""

    _type = "plotly-file"

    def __init__(self, val: Any) -> None:
        self._image: bytes | None = None
        if is_pyplot(val) or is_matplotlib_figure(val):
            print("runyard: runyard.Plotly(matplotlib figure) is stored as an image", file=sys.stderr)
            self._image = figure_png(val)
            self._data = b""
            return
        to_json = getattr(val, "to_json", None)
        if not callable(to_json):
            if isinstance(val, dict) and "data" in val:
                self._data = json.dumps(_jsonable_points(val)).encode()
                return
            raise TypeError(f"runyard.Plotly: expected a plotly figure, got {type(val).__name__}")
        self._data = to_json().encode("utf-8")

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        if self._image is not None:
            desc: dict[str, Any] = {"_type": "image-file", "format": "png"}
            desc.update(file_entry(files_dir, "images", key, step, self._image, "png"))
            return desc
        desc = {"_type": self._type}
        desc.update(file_entry(files_dir, "plotly", key, step, self._data, "plotly.json"))
        return desc
