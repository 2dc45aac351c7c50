"""pdlib.data.video on small videos made here with PyAV: sampling, formats, windows, variable frame rates, display
matrices, tags, streams, crop boxes, truncated, undecodable and corrupt files."""


import av
import numpy as np
import pytest
from video_samples import FASTSTART, encode, frame_ids

from pdlib.data import (
    ClipSpec,
    VideoDecodeError,
    VideoWarning,
    decode_clip,
    parse_window,
    read_clip,
    sample_indices,
)
from pdlib.data.video import window_indices


def test_sample_indices_are_slice_centres():
    assert sample_indices(10, 4).tolist() == [1, 3, 6, 8]
    assert sample_indices(20, 8).tolist() == [1, 3, 6, 8, 11, 13, 16, 18]
    assert sample_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # repeats when shorter than T
    assert sample_indices(32, 32).tolist() == list(range(32))
    assert window_indices(20, 4).tolist() == [8, 9, 10, 11]
    assert window_indices(5, 4, start=3).tolist() == [3, 4, 4, 4]


@pytest.mark.parametrize("name,codec,pix_fmt", [
    ("h264.mp4", "libx264", "yuv420p"),
    ("mjpeg.avi", "mjpeg", "yuvj420p"),
    ("mpeg4.mov", "mpeg4", "yuv420p"),
    ("h264.mkv", "libx264", "yuv420p"),  # Matroska: no frame count in the header
    ("hevc.mp4", "libx265", "yuv420p"),
])
def test_read_clip_formats(tmp_path, name, codec, pix_fmt):
    path = encode(tmp_path / name, codec, pix_fmt=pix_fmt)
    clip, info = decode_clip(path, ClipSpec(8, 32))
    assert clip.shape == (8, 32, 32, 3) and clip.dtype == np.uint8
    assert info.frames == 20 and info.warnings == []
    assert frame_ids(clip) == sample_indices(20, 8).tolist()


def test_window_and_short_video(tmp_path):
    path = encode(tmp_path / "a.mp4", n=6)
    assert frame_ids(read_clip(path, ClipSpec(4, 16, window="middle"))) == [1, 2, 3, 4]
    assert frame_ids(read_clip(path, ClipSpec(4, 16, window=4))) == [4, 5, 5, 5]
    with pytest.warns(VideoWarning, match="a.mp4: 6 frames, fewer than the 12 asked: frames repeat"):
        assert frame_ids(read_clip(path, ClipSpec(12, 16))) == sample_indices(6, 12).tolist()


def test_windows_cover_the_whole_video_at_the_native_rate(tmp_path):
    """clip_window "windows<K>": K runs of T/K consecutive frames centred in K equal slices of the video."""
    assert window_indices(100, 8, "windows4").tolist() == [11, 12, 36, 37, 61, 62, 86, 87]
    assert window_indices(20, 4, "windows1").tolist() == window_indices(20, 4).tolist()  # one window: the middle
    assert window_indices(6, 8, "windows2").tolist() == [0, 1, 2, 3, 2, 3, 4, 5]  # kept inside a short video
    path = encode(tmp_path / "a.mp4", n=20)
    assert frame_ids(read_clip(path, ClipSpec(6, 16, window="windows3"))) == [2, 3, 9, 10, 15, 16]
    assert parse_window("windows03") == "windows3" and ClipSpec(8, 16, "windows4").windows == 4
    assert ClipSpec(8, 16, "windows4").tag == "T8_S16_Wwindows4" and ClipSpec(8, 16, "middle").windows == 1
    with pytest.raises(ValueError, match="4 windows need a number of frames divisible by 4, found 6"):
        ClipSpec(6, 16, "windows4")
    with pytest.raises(ValueError, match="found 'windows0'"):
        parse_window("windows0")


def test_variable_frame_rate_is_sampled_by_time(tmp_path):
    # 10 frames 40 ms apart, then 10 frames 100 ms apart; the last lasts 40 ms (1/rate): 1.34 s in all.
    pts = [40 * i for i in range(10)] + [400 + 100 * j for j in range(10)]
    path = encode(tmp_path / "vfr.mp4", pts_ms=pts)
    clip, info = decode_clip(path, ClipSpec(7, 32))
    assert info.by_time
    # centres of 7 slices of 1340 ms: 96, 287, 479, 670, 861, 1053, 1244 ms -> the frames then on screen
    assert frame_ids(clip) == [2, 7, 10, 12, 14, 16, 18]
    assert frame_ids(clip) != sample_indices(20, 7).tolist()


def test_rotation_metadata_gives_upright_frames(tmp_path):
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:8] = 255  # a white band along the top of the stored (landscape) picture
    path = encode(tmp_path / "portrait.mp4", n=4, rotation=90, picture=picture)
    with av.open(str(path)) as c:
        assert next(c.decode(video=0)).rotation == 90  # 90 degrees counter-clockwise to display
    clip, info = decode_clip(path, ClipSpec(2, 48))
    assert (info.width, info.height, info.rotation) == (48, 64, 90)  # portrait once upright
    gray = clip[0].mean(axis=2)
    assert gray[:, :6].mean() > 200 and gray[:, 10:].mean() < 30  # the top band turned to the left edge


@pytest.mark.parametrize("matrix, rotation, mirrored, upright", [
    ((0, True, False), 0, True, lambda p: p[:, ::-1]),
    ((0, False, True), 180, True, lambda p: p[::-1]),
    ((90, True, False), 90, True, lambda p: np.rot90(p)[:, ::-1]),
    ((270, False, False), 270, False, lambda p: np.rot90(p, 3)),
])
def test_mirrored_display_matrix_is_applied(tmp_path, matrix, rotation, mirrored, upright):
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:16, :16] = 255  # a white square in the top-left corner of the stored picture
    path = encode(tmp_path / "m.mp4", n=2, rotation=matrix, picture=picture)
    clip, info = decode_clip(path, ClipSpec(1, 48))
    assert (info.rotation, info.mirrored) == (rotation, mirrored)
    expected = upright(picture).mean(axis=2)  # the picture as a player displays it, 48 px short side
    h, w = expected.shape
    expected = expected[(h - 48) // 2:(h + 48) // 2, (w - 48) // 2:(w + 48) // 2]
    corner = np.unravel_index(np.argmax(expected[::47, ::47]), (2, 2))  # which corner holds the square
    gray = clip[0].mean(axis=2)
    assert gray[::47, ::47][corner] > 200 and (gray[::47, ::47] > 200).sum() == 1


def test_a_tag_that_is_not_utf8_does_not_stop_decoding(tmp_path):
    """A phone's Latin-1 title tag: PyAV 18 raises UnicodeDecodeError on it unless told to ignore it, PyAV 19
    decodes it with surrogateescape; either way the clip decodes, rotation included."""
    path = tmp_path / "tagged.mp4"
    with av.open(str(path), "w") as c:
        c.metadata["title"] = "TITLEXYZ"
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)
        for i in range(6):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), format="rgb24")))
        c.mux(s.encode())
    data = path.read_bytes()
    assert data.count(b"TITLEXYZ") == 1
    path.write_bytes(data.replace(b"TITLEXYZ", b"Ti\xe9\xff XYZ"))  # same length: the atoms stay valid
    clip, info = decode_clip(path, ClipSpec(3, 48))
    assert clip.shape == (3, 48, 48, 3) and (info.width, info.height, info.rotation) == (48, 64, 90)
    assert frame_ids(clip) == sample_indices(6, 3).tolist()


def test_audio_stream_ignored_and_second_video_stream_warned(tmp_path):
    clip = read_clip(encode(tmp_path / "a.mp4", audio=True), ClipSpec(4, 16))
    assert frame_ids(clip) == sample_indices(20, 4).tolist()
    with pytest.warns(VideoWarning, match="2 video streams; using the first"):
        clip = read_clip(encode(tmp_path / "two.mkv", video_streams=2), ClipSpec(4, 16))
    assert frame_ids(clip) == sample_indices(20, 4).tolist()


def test_crop_box_is_applied_before_resizing(tmp_path):
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, 32:] = 200
    path = encode(tmp_path / "c.mp4", n=3, picture=picture)
    clip = read_clip(path, ClipSpec(2, 16), box=(40, 0, 64, 48))  # the bright right part only
    assert abs(float(clip.mean()) - 200) < 6



def test_truncated_file_resampled_with_warning(truncated):
    with pytest.warns(VideoWarning) as caught:
        clip = read_clip(truncated, ClipSpec(8, 16))
    messages = " | ".join(str(w.message) for w in caught)
    assert "decoding stopped after" in messages and "header promises 30 frames, decoded" in messages, messages
    _, info = decode_clip(truncated, ClipSpec(8, 16))
    assert 0 < info.frames < 30 and info.header_frames == 30
    assert info.indices == sample_indices(info.frames, 8).tolist()
    assert np.abs(np.array(frame_ids(clip)) - np.array(info.indices)).max() <= 1


@pytest.mark.parametrize("content,reason", [
    (b"", "zero-length file"),
    (b"this is not a video\n" * 20, "cannot open as a video container"),
    (None, "missing file"),
])
def test_undecodable_files_raise(tmp_path, content, reason):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoDecodeError, match=reason) as e:
        read_clip(path, ClipSpec(4, 16))
    assert str(path) in str(e.value)


def test_corrupt_data_mid_stream_raises(tmp_path):
    data = bytearray(encode(tmp_path / "ok.mp4", n=30, noise=20, options=FASTSTART).read_bytes())
    for k in range(len(data) // 3, len(data) - 50, 29):
        data[k] ^= 0xFF
    (tmp_path / "corrupt.mp4").write_bytes(bytes(data))
    with pytest.raises(VideoDecodeError, match="corrupt.mp4"):
        read_clip(tmp_path / "corrupt.mp4", ClipSpec(4, 16))


