"""Dataset manifests and their validation, robust video decoding, the clip cache and the torch Datasets.

Names are imported on first use (PEP 562), so worker processes that only decode never import torch.
"""

from importlib import import_module

_EXPORTS = {
    "pdlib.data.video": ("VideoDecodeError", "VideoWarning", "ClipInfo", "read_clip", "decode_clip",
                         "sample_indices", "probe_video"),
    "pdlib.data.spec": ("ClipSpec", "parse_window"),
    "pdlib.data.manifest": ("DatasetError", "DatasetWarning", "dataset_format", "load_manifest"),
    "pdlib.data.check": ("CheckReport", "check_dataset", "check_main", "video_durations"),
    "pdlib.data.cache": ("cache_clips", "content_hash", "report_path"),
    "pdlib.data.datasets": ("ClipDataset", "task_clips", "action_clips", "preprocess_actions", "pd4t_clips"),
    "pdlib.data.transforms": ("to_model_input", "KINETICS_MEAN", "KINETICS_STD"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'pdlib.data' has no attribute {name!r}")
    value = getattr(import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
