"""MetricsLogger: metrics.jsonl rows (kept across a resume for the health checks) and the
optional Weights & Biases mirror, checked by reading back the offline run W&B writes."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from mmrft.trainer.metrics import MetricsLogger


def test_rows_hold_the_file_and_each_new_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "a": 1.0}\n{"step": 2, "a"\n')  # a line cut off by a kill
    logger = MetricsLogger(path)
    assert logger.rows == [{"step": 1, "a": 1.0}]
    logger.log(3, {"a": float("nan"), "health/warnings": [{"check": "x", "message": "y"}]})
    assert logger.rows[-1] == {
        "step": 3,
        "a": None,
        "health/warnings": [{"check": "x", "message": "y"}],
    }
    logger.close()


def read_wandb_run(run_file: Path) -> tuple[list[dict], dict]:
    """The history rows and the config of an offline ``run-*.wandb`` file.

    The file is a 7-byte header (``:W&B``, magic, version) and then LevelDB log records:
    32 KiB blocks of [crc32 (4), length (2, little-endian), type (1), data]; type 1 is a whole
    record, 2/3/4 the first/middle/last piece of a split one; each record a protobuf ``Record``.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    block, pos, buf, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            records.append(buf)
            buf = b""
    history, config = [], {}
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = record.history.item
            history.append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}
            )
        elif kind == "run":
            config.update({u.key: json.loads(u.value_json) for u in record.run.config.update})
    return history, config


def test_wandb_offline_run_holds_the_logged_metrics(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is in the dev extra: pip install -e '.[dev]'")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("rl:\n  lr: 0.0003\n")
    logger = MetricsLogger(run_dir / "metrics.jsonl", wandb_project="mmrft-test")
    for step in (1, 2, 3):
        logger.log(
            step,
            {
                "reward/mean": 0.25 * step,
                "actor/kl": float("nan") if step == 2 else 0.01,  # null in JSON: not sent
                "health/warnings": [{"check": "kl_exploding", "message": "..."}],  # not a number
            },
        )
    logger.close()
    import wandb

    # finish() returns before wandb's service has written the offline file; at process exit
    # it always has (atexit). teardown() stops the service, so the file is complete now.
    wandb.teardown()

    run_id = (run_dir / "wandb_run_id").read_text().strip()
    runs = list((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(runs) == 1, list((run_dir / "wandb").iterdir())
    history, config = read_wandb_run(next(runs[0].glob("run-*.wandb")))
    logged = {row["_step"]: row for row in history if "reward/mean" in row}
    assert sorted(logged) == [1, 2, 3]
    assert [logged[s]["reward/mean"] for s in (1, 2, 3)] == [0.25, 0.5, 0.75]
    assert "actor/kl" not in logged[2] and logged[3]["actor/kl"] == 0.01
    assert not any("health/warnings" in row for row in history)
    assert config["rl"] == {"lr": 0.0003}  # config.yaml is the W&B config

    # Rerunning in the same directory (a resume) continues the same W&B run id.
    again = MetricsLogger(run_dir / "metrics.jsonl", wandb_project="mmrft-test")
    again.log(4, {"reward/mean": 1.0})
    again.close()
    assert (run_dir / "wandb_run_id").read_text().strip() == run_id
    assert len(again.rows) == 4


def test_wandb_missing_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    with pytest.raises(ImportError, match=r"run.wandb_project .* pip install wandb"):
        MetricsLogger(tmp_path / "metrics.jsonl", wandb_project="p")
