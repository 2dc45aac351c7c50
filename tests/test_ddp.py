"""fit() under torchrun: two CPU processes (gloo) train one DistributedDataParallel model, one code path."""

import os
import subprocess
import sys
import textwrap

import torch

from pdlib.models import build_model

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd, torch
    from pdlib.data import ClipDataset
    from pdlib.models import build_model
    from pdlib.train import TrainConfig, distributed, fit

    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 256, (12, 4, 16, 16, 3), dtype=torch.uint8, generator=g)
    labels = torch.tensor([0, 1] * 6)
    meta = pd.DataFrame({"video": [f"v{i}" for i in range(12)], "patient": [f"P{i}" for i in range(12)]})
    torch.manual_seed(0)
    model = build_model("r3d10", 2, widen=0.125)
    config = TrainConfig(epochs=2, batch_size=3, lr=0.01, progress=False, checkpoint_dir=out + "/ckpt")
    result = fit(model, ClipDataset(clips, labels, meta), None, config)
    rank, _, world = distributed()
    torch.save({"state": result.model.state_dict(), "world": world, "history": result.history},
               f"{out}/rank{rank}.pt")
""")


def test_fit_under_torchrun_two_processes(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    env = os.environ | {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # DDP keeps the replicas identical: averaged gradients, rank 0's BatchNorm buffers broadcast
    for key, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][key]), key
    history = ranks[0]["history"]
    assert len(history) == 2 and history["loss"].notna().all()
    assert (history["loss"] == ranks[1]["history"]["loss"]).all()  # the epoch loss is the mean over ranks
    ckpt = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=False)  # written by rank 0 only
    assert ckpt["epoch"] == 2
    torch.manual_seed(0)
    untrained = build_model("r3d10", 2, widen=0.125).state_dict()
    assert not torch.equal(untrained["conv1.weight"], ranks[0]["state"]["conv1.weight"])  # it trained
