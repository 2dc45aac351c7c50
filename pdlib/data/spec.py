"""`ClipSpec`: how a video becomes a clip, as one object from the params to decoding, the recipes and the models.

It is frozen and JSON-able: part of every recipe (`pdlib.layout`), of every task model's saved config
(`build_model(..., clip=spec)`), and the key of the clip cache's folder (`pdlib.data.cache.clip_dir`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


def parse_window(value: int | str | None) -> int | str | None:
    """A clip window setting from params or the command line: "" or None -> None (frames spread over the
    whole video, the study), "middle", or a start frame (an int or its digits)."""
    if value is None or value == "":
        return None
    if value == "middle":
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    raise ValueError(f"clip window: expected '' (spread over the video), 'middle' or a start frame, found {value!r}")


@dataclass(frozen=True)
class ClipSpec:
    """How a video becomes a clip (read_clip): T frames of S x S pixels, spread over the video (window None,
    the study) or consecutive from a window ("middle" or a start frame), inside the manifest's crop box
    (crop True) or the whole frame."""

    frames: int
    size: int
    window: int | str | None = None
    crop: bool = True

    def __post_init__(self):
        if self.frames < 1 or self.size < 1:
            raise ValueError(f"ClipSpec: expected frames >= 1 and size >= 1, found {self.frames}, {self.size}")
        object.__setattr__(self, "window", parse_window(self.window))

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def tag(self) -> str:
        """`T<frames>_S<size>[_W<window>]`: the spec in a file name (crop boxes are in each clip's name)."""
        return f"T{self.frames}_S{self.size}" + (f"_W{self.window}" if self.window is not None else "")

    @classmethod
    def from_params(cls, params: dict, prefix: str = "") -> ClipSpec:
        """The spec a profile's flat params name: `<prefix>frames`, `<prefix>size` and, for the task clips
        (no prefix), `clip_window`; prefix "pretrain_" gives pretraining's (spread over the video)."""
        window = params.get("clip_window", "") if not prefix else None
        return cls(int(params[f"{prefix}frames"]), int(params[f"{prefix}size"]), window)

    @classmethod
    def of_model(cls, model) -> ClipSpec:
        """The clip spec a saved task model was trained on (its config's `clip`, given to `build_model`)."""
        clip = getattr(model, "pdlib_config", {}).get("clip")
        if clip is None:
            raise ValueError(f"model {getattr(model, 'pdlib_config', {}).get('name', '?')} has no clip spec in "
                             "its saved config: retrain it with the task-level experiments (notebook 02)")
        return cls(**clip)
