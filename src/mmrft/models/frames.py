"""Which frames of a video sample a model sees: the video half of the pixel budget.

A video sample (``meta["video"] = True``) carries its frames in ``images``, recorded at
``meta["fps"]`` frames per second (default 2, Qwen's sampling rate). Two knobs bound what the
model pays for it, as in Qwen-VL's ``fps`` / ``max_frames`` video options:

* ``fps``: keep the frames nearest to a ``fps`` clock (t = 0, 1/fps, 2/fps, ...); a rate at or
  above the recorded one keeps every frame (frames are never invented);
* ``max_frames``: then keep at most this many, spread evenly from the first to the last kept.

The chosen frames keep their original indices (``meta["frames_indices"]``, with
``meta["total_num_frames"]``), so processors that write timestamps (Qwen3-VL) or seconds per
temporal patch (Qwen2.5-VL) date them by when they were recorded, not by their new positions.
"""

from __future__ import annotations

from dataclasses import replace

from mmrft.data.sample import Sample

DEFAULT_FPS = 2.0


def frame_indices(
    n_frames: int, source_fps: float, fps: float | None = None, max_frames: int | None = None
) -> list[int]:
    """Indices of the frames to keep, increasing.

    >>> frame_indices(10, source_fps=4, fps=2)  # every other frame: t = 0, 0.5, 1, ...
    [0, 2, 4, 6, 8]
    >>> frame_indices(10, source_fps=4, fps=2, max_frames=3)  # then 3 spread over 0..8
    [0, 4, 8]
    >>> frame_indices(3, source_fps=2, fps=30)  # never more frames than were recorded
    [0, 1, 2]
    """
    if n_frames <= 0:
        return []
    if source_fps <= 0:
        raise ValueError(f"a video's meta['fps'] must be positive, got {source_fps}")
    keep = list(range(n_frames))
    if fps is not None and fps < source_fps:
        # Clock ticks k / fps that fall within the recording, each mapped to its nearest frame.
        ticks = int((n_frames - 1) * fps / source_fps) + 1
        keep = sorted({round(k * source_fps / fps) for k in range(ticks)})
    if max_frames is not None and len(keep) > max_frames:
        if max_frames == 1:
            return keep[:1]
        last = len(keep) - 1
        keep = [keep[round(i * last / (max_frames - 1))] for i in range(max_frames)]
    return keep


def select_frames(sample: Sample, fps: float | None, max_frames: int | None) -> Sample:
    """``sample`` with only the frames the model should see (itself when nothing is dropped).

    Frames already selected (``meta["frames_indices"]`` present) are not selected again.
    """
    if not sample.meta.get("video") or "frames_indices" in sample.meta:
        return sample
    n = len(sample.images)
    keep = frame_indices(n, float(sample.meta.get("fps", DEFAULT_FPS)), fps, max_frames)
    if len(keep) == n:
        return sample
    meta = {**sample.meta, "frames_indices": keep, "total_num_frames": n}
    return replace(sample, images=[sample.images[i] for i in keep], meta=meta)


def video_metadata(sample: Sample) -> dict[str, object]:
    """The ``video_metadata`` a processor needs to date the frames it is given as they are (no
    resampling by it): the recording's fps and each frame's original index."""
    return {
        "fps": float(sample.meta.get("fps", DEFAULT_FPS)),
        "total_num_frames": sample.meta.get("total_num_frames", len(sample.images)),
        "frames_indices": sample.meta.get("frames_indices", list(range(len(sample.images)))),
    }
