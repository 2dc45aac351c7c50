"""`ClipSpec`: how a video becomes a clip, as one object from the params to decoding, the recipes and the models.

It is frozen and JSON-able: part of every recipe (`pdlib.layout`), of every task model's saved config
(`build_model(..., clip=spec)`), and the key of the clip cache's folder (`pdlib.data.cache.clip_dir`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


def parse_window(value: int | str | None) -> int | str | None:
    """A clip window setting from params or the command line: "" or None -> None (frames spread over the
    whole video, the study), "middle", a start frame (an int or its digits), or "windows<K>" (K windows of
    consecutive frames spread over the video; `window_count`)."""
    if value is None or value == "":
        return None
    if value == "middle":
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    if isinstance(value, str) and value.startswith("windows") and value[7:].isdigit() and int(value[7:]) >= 1:
        return f"windows{int(value[7:])}"
    raise ValueError(f"clip window: expected '' (spread over the video), 'middle', a start frame or 'windows<K>' "
                     f"(K windows spread over the video, e.g. windows4), found {value!r}")


CROPS = ("manifest", "keypoints", "none")
CROP_MARGIN = 0.10  # the margin trained and measured (RESULTS.md, "Keypoint crops"); 0.25 is barely a crop on SynPD


def parse_crop(value: bool | str) -> str:
    """A clip crop setting: "manifest" (videos.csv's `crop` boxes; a saved recipe's True), "keypoints" or
    "none" (the whole frame; a saved recipe's False)."""
    if value is True or value is False:
        return "manifest" if value else "none"
    if value in CROPS:
        return value
    raise ValueError(f"clip crop: expected one of {', '.join(CROPS)}, found {value!r}")


def window_count(window: int | str | None) -> int:
    """K of a "windows<K>" window (the clip is K windows of frames/K consecutive frames), 1 otherwise."""
    return int(window[7:]) if isinstance(window, str) and window.startswith("windows") else 1


@dataclass(frozen=True)
class ClipSpec:
    """How a video becomes a clip (read_clip): T frames of S x S pixels, spread over the video (window None,
    the study), consecutive from a window ("middle" or a start frame), or K windows of T/K consecutive frames
    centred in K equal slices of the video ("windows<K>": the native rate locally, the whole video at once),
    inside a crop box (`crop`: "manifest", the `crop` column of videos.csv; "keypoints", a square around the
    landmarks the task's signal needs with `crop_margin`, `pdlib.boxes`; "none", the whole frame)."""

    frames: int
    size: int
    window: int | str | None = None
    crop: str = "manifest"
    # With "windows<K>": each window is a view the model scores on its own (W = T/K frames): training sees one
    # window of each clip drawn anew every step, evaluation averages the K windows' outputs (multi-clip testing).
    views: bool = False
    # With crop "keypoints": the margin around the landmarks' box, a fraction of its side on each side.
    crop_margin: float = CROP_MARGIN

    def __post_init__(self):
        if self.frames < 1 or self.size < 1:
            raise ValueError(f"ClipSpec: expected frames >= 1 and size >= 1, found {self.frames}, {self.size}")
        object.__setattr__(self, "crop", parse_crop(self.crop))
        if not (isinstance(self.crop_margin, int | float) and 0 <= self.crop_margin <= 4):
            raise ValueError(f"ClipSpec: expected a crop margin between 0 and 4 (a fraction of the box side), "
                             f"found {self.crop_margin!r}")
        if self.crop != "keypoints":  # the margin means nothing then: equal specs, equal recipes
            object.__setattr__(self, "crop_margin", CROP_MARGIN)
        object.__setattr__(self, "crop_margin", float(self.crop_margin))
        object.__setattr__(self, "window", parse_window(self.window))
        if self.frames % self.windows:
            raise ValueError(f"ClipSpec: {self.windows} windows need a number of frames divisible by "
                             f"{self.windows}, found {self.frames}")
        if self.views and self.windows == 1:
            raise ValueError(f"ClipSpec: views need a clip of windows (window 'windows<K>'), found {self.window!r}")

    @property
    def windows(self) -> int:
        """K: the clip is K windows of frames/K consecutive frames, one after the other (1: a single run)."""
        return window_count(self.window)

    def as_dict(self) -> dict:
        """The fields as a dict; `views` only when set and `crop_margin` only with keypoint crops, and crop
        "manifest" / "none" written as the True / False they were before, so the recipes (and saved models) of
        specs without these stay as they were."""
        fields = asdict(self)
        if not self.views:
            del fields["views"]
        if self.crop != "keypoints":
            del fields["crop_margin"]
            fields["crop"] = self.crop == "manifest"
        return fields

    @property
    def tag(self) -> str:
        """`T<frames>_S<size>[_W<window>]`: the decoded clips' spec in a file name (crop boxes are in each clip's
        name; views share the clips of their windows)."""
        return f"T{self.frames}_S{self.size}" + (f"_W{self.window}" if self.window is not None else "")

    @classmethod
    def from_params(cls, params: dict, prefix: str = "") -> ClipSpec:
        """The spec a profile's flat params name: `<prefix>frames`, `<prefix>size` and, for the task clips
        (no prefix), `clip_window`, `clip_views`, `clip_crop` and `clip_crop_margin`; prefix "pretrain_" gives
        pretraining's (spread over the video, the whole frame of an action)."""
        if prefix:
            return cls(int(params[f"{prefix}frames"]), int(params[f"{prefix}size"]))
        return cls(int(params["frames"]), int(params["size"]), params.get("clip_window", ""),
                   params.get("clip_crop", "manifest"), views=bool(params.get("clip_views", False)),
                   crop_margin=params.get("clip_crop_margin", CROP_MARGIN))

    @classmethod
    def of_model(cls, model) -> ClipSpec:
        """The clip spec a saved task model was trained on (its config's `clip`, given to `build_model`)."""
        clip = getattr(model, "pdlib_config", {}).get("clip")
        if clip is None:
            raise ValueError(f"model {getattr(model, 'pdlib_config', {}).get('name', '?')} has no clip spec in "
                             "its saved config: retrain it with the task-level experiments (notebook 02)")
        return cls(**clip)


def clip_views(model) -> int:
    """K when `model` (its saved config's clip) scores each of its clip's K windows as a view, else 1."""
    for wrapper in ("module", "_orig_mod"):  # DistributedDataParallel, torch.compile
        model = getattr(model, wrapper, model)
    clip = getattr(model, "pdlib_config", {}).get("clip") or {}
    return window_count(clip.get("window")) if clip.get("views") else 1
