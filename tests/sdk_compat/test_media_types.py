"""W&B's media types, values of other libraries logged directly, Table's W&B methods, and the warning for
values that cannot be stored (no server: descriptors and files only)."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import runyard
from runyard._flatten import flatten
from runyard._jsonify import jsonable


def _bytes(files: Path, desc: dict) -> bytes:  # type: ignore[type-arg]
    data = (files / desc["path"]).read_bytes()
    assert len(data) == desc["size"]
    return data


def test_video_from_frames_is_an_animated_gif_and_from_a_file_as_it_is(tmp_path: Path) -> None:
    frames = np.zeros((5, 3, 6, 8), dtype=np.uint8)
    frames[:, 0] = np.arange(5)[:, None, None] * 50  # red grows frame by frame
    desc = runyard.Video(frames, caption="run", fps=5).bind(tmp_path, "rollout", 3)
    assert desc["_type"] == "video-file" and desc["format"] == "gif" and (desc["width"], desc["height"]) == (8, 6)
    gif = PILImage.open(io.BytesIO(_bytes(tmp_path, desc)))
    assert gif.n_frames == 5 and desc["caption"] == "run" and desc["fps"] == 5
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    desc = runyard.Video(str(src)).bind(tmp_path, "clip", 0)
    assert desc["format"] == "mp4" and _bytes(tmp_path, desc) == src.read_bytes()
    with pytest.raises(ValueError, match="time, channel"):
        runyard.Video(np.zeros((4, 4)))


def test_audio_samples_become_a_wav_with_duration(tmp_path: Path) -> None:
    samples = np.sin(np.linspace(0, 100, 8000)) * 2.0  # louder than 1: scaled down, not clipped
    desc = runyard.Audio(samples, sample_rate=8000, caption="tone").bind(tmp_path, "audio", 0)
    assert desc["_type"] == "audio-file" and desc["sample_rate"] == 8000 and desc["duration"] == 1.0
    with wave.open(io.BytesIO(_bytes(tmp_path, desc))) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        assert w.getframerate() == 8000 and len(pcm) == 8000 and pcm.max() > 32000
    with pytest.raises(ValueError, match="sample_rate"):
        runyard.Audio(samples)


def test_html_object3d_molecule_and_plotly(tmp_path: Path) -> None:
    desc = runyard.Html("<b>hi</b>").bind(tmp_path, "page", 0)
    assert desc["_type"] == "html-file" and _bytes(tmp_path, desc) == b"<b>hi</b>"
    obj = tmp_path / "tri.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with open(obj) as f:
        desc = runyard.Object3D(f).bind(tmp_path, "mesh", 0)
    assert desc["format"] == "obj" and b"f 1 2 3" in _bytes(tmp_path, desc)
    cloud = runyard.Object3D(np.ones((10, 3))).bind(tmp_path, "cloud", 0)
    assert json.loads(_bytes(tmp_path, cloud))["points"] == [[1.0, 1.0, 1.0]] * 10
    scene = runyard.Object3D({"type": "lidar/beta", "points": np.zeros((2, 3)), "boxes": np.array([])})
    assert json.loads(_bytes(tmp_path, scene.bind(tmp_path, "scene", 0)))["points"] == [[0.0] * 3] * 2
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        runyard.Object3D(np.zeros((3, 2)))
    pdb = tmp_path / "water.pdb"
    pdb.write_text("HETATM    1  O   HOH A   1       0.000   0.000   0.000\nEND\n")
    mol = runyard.Molecule(str(pdb), caption="water").bind(tmp_path, "mol", 0)
    assert mol["_type"] == "molecule-file" and mol["format"] == "pdb" and mol["caption"] == "water"
    go = pytest.importorskip("plotly.graph_objects")
    fig = go.Figure(data=go.Scatter(x=[0, 1], y=[2, 3]))
    plot = runyard.Plotly(fig).bind(tmp_path, "fig", 0)
    assert plot["_type"] == "plotly-file" and json.loads(_bytes(tmp_path, plot))["data"][0]["y"] == [2, 3]


def test_figures_and_dataframes_are_converted_when_logged(tmp_path: Path) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    pd = pytest.importorskip("pandas")
    plt.figure()
    plt.plot([0, 1], [0, 1])
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    row = flatten({"chart": plt, "fig": plt.gcf(), "df": df, "n": 1.5, "s": "text"})
    df.loc[0, "a"] = 99  # changed after log(): the logged table keeps the old value
    plt.close("all")
    assert isinstance(row["chart"], runyard.Image) and isinstance(row["fig"], runyard.Image)
    assert row["n"] == 1.5 and row["s"] == "text"
    table = row["df"]
    assert isinstance(table, runyard.Table) and table.columns == ["a", "b"] and table.data == [[1, "x"], [2, "y"]]
    img = PILImage.open(io.BytesIO(_bytes(tmp_path, row["chart"].bind(tmp_path, "chart", 0))))
    assert img.size[0] > 50 and img.size[1] > 50


def test_table_methods_of_wandb(tmp_path: Path) -> None:
    t = runyard.Table(data=[], columns=[])
    t.add_column("image", [runyard.Image(np.zeros((2, 2))), runyard.Image(np.ones((2, 2)))])
    t.add_column("label", np.array([3, 5]))
    t.add_computed_columns(lambda i, row: {"double": row["label"] * 2, "index": i})
    assert t.columns == ["image", "label", "double", "index"] and t.get_column("double") == [6, 10]
    assert t.get_column("label", convert_to="numpy").tolist() == [3, 5] and t.get_index() == [0, 1]
    assert list(t.get_dataframe()["index"]) == [0, 1] and len(t) == 2
    with pytest.raises(ValueError, match="2 rows"):
        t.add_column("short", [1])
    with pytest.raises(KeyError, match="no column"):
        t.get_column("missing")
    body = json.loads(_bytes(tmp_path, t.bind(tmp_path, "t", 0)))
    assert body["columns"] == t.columns and body["data"][1][0]["_type"] == "image-file"


def test_unstorable_values_warn_once_and_known_ones_convert(capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt
    import enum

    class Opt(enum.Enum):
        ADAM = "adam"

    class Mystery:
        def __str__(self) -> str:
            return "mystery!"

    value = {"path": Path("/data"), "day": dt.date(2026, 1, 2), "opt": Opt.ADAM, "m": Mystery(), "m2": Mystery()}
    assert jsonable(value, what="config") == {"path": "/data", "day": "2026-01-02", "opt": "adam",
                                              "m": "mystery!", "m2": "mystery!"}
    err = capsys.readouterr().err
    assert err.count("Mystery") == 1 and "in config" in err and "stored as its text" in err
