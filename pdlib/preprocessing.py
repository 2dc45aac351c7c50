"""Decoding a dataset's videos into the clip cache once, as a clip spec says (`pdlib preprocess`, notebooks 01-02,
the explorer): the manifest's videos, their crop boxes (`pdlib.boxes`: the manifest's, or squares around their
keypoints) and `pdlib.data.cache.cache_clips`. Above the tracking room, since keypoint boxes read keypoints."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pdlib.data.cache import cache_clips, report_path, write_report
from pdlib.data.spec import ClipSpec


def preprocess(root: str | os.PathLike, spec: ClipSpec, cache_dir: str | os.PathLike, workers: int | None = None,
               progress: bool = True) -> pd.DataFrame:
    """Decode every video of a dataset once into the clip cache as `spec` says (docs/DATASET.md "Clips").

    `spec.window`: None spreads the frames over the whole video (the study); "middle" or a start frame takes
    consecutive frames at the native rate (`read_clip`). `spec.crop`: "manifest" uses the manifest's `crop`
    boxes (when it has them), "keypoints" a square around the landmarks the task needs (`pdlib.boxes`;
    a video without usable keypoints keeps its whole picture, said in its warning), "none" the whole frame.
    A run's cache is `Layout.cache_dir` (the notebooks' and `pdlib preprocess`'s).

    Returns the manifest's videos (rows naming a landmark file instead are left out) with ok, reason, warning,
    decoded, cache, frames, hash (see `cache_clips`), box (the crop box used, None: whole picture) and
    crop_note (why a keypoint crop kept the whole picture, "" otherwise); `.attrs["report"]` is the report CSV
    of skipped and warned-about videos (`report_path`); `.attrs["spec"]` the spec; `.attrs["whole"]` the
    one-line summary of the videos kept whole for want of keypoints ("" when none). A second call decodes
    nothing. Raises DatasetError for a malformed dataset.
    """
    from pdlib.boxes import add_notes, clip_boxes, whole_picture_line
    from pdlib.data.manifest import load_manifest

    root = Path(root).resolve()
    videos, _ = load_manifest(root)
    videos = videos[videos["kind"] == "video"].reset_index(drop=True)  # landmark files are not decoded
    crops, notes = clip_boxes(videos, spec, cache_dir)
    status = cache_clips(list(videos["path"]), spec, cache_dir, crops=crops, workers=workers, progress=progress)
    status["warning"] = add_notes(status["warning"], notes)
    status["box"] = pd.Series(crops if crops is not None else [None] * len(videos), dtype=object)
    status["crop_note"] = notes
    result = pd.concat([videos.reset_index(drop=True), status.drop(columns="path")], axis=1)
    result.attrs["report"] = str(report_path(cache_dir, root.name, spec))
    result.attrs["spec"] = spec
    result.attrs["whole"] = whole_picture_line(notes)
    write_report(result, Path(result.attrs["report"]))
    return result


def preprocess_main(root: str, spec: ClipSpec, cache_dir: str | os.PathLike, workers: int | None = None) -> int:
    """`pdlib preprocess DIR [--profile P]`: 0 when every video is cached, 1 when some were skipped (listed),
    2 when the dataset is malformed or none of its videos is usable (`pdlib.messages.exit_code`)."""
    from pdlib.data.manifest import DatasetError
    from pdlib.messages import count, exit_code

    try:
        result = preprocess(root, spec, cache_dir, workers)
    except DatasetError as e:
        print(e)
        return 2
    if not len(result):
        print(f"{root}: no videos to decode (a dataset of landmark files needs none)")
        return 0
    skipped = result.loc[~result["ok"]]
    print(f"{count(len(result), 'video')}: {int(result['ok'].sum())} cached ({int(result['decoded'].sum())} "
          f"decoded now), {len(skipped)} skipped, {int((result['warning'] != '').sum())} with warnings; clips "
          f"{spec.tag} in {cache_dir}")
    for r in skipped.itertuples():
        print(f"  skipped {r.video}: {r.reason}")
    if result.attrs["whole"]:
        print(result.attrs["whole"])
    print(f"report: {result.attrs['report']}")
    if len(skipped) == len(result):
        print("error: no video of the dataset is usable")
    return exit_code(len(result), len(skipped))
