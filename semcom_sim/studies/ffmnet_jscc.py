"""Train the shipped tiny JSCC checkpoints on top of the shipped ``ffmnet-tiny`` (step 2).

Run from the repository root after ``ffmnet-tiny`` is in place:

    semcom-sim study ffmnet-jscc

The runs share one Python process only so that the generated train split and the frozen FFMNet's
D1 cache are made once; each run is exactly the ``semcom-sim train ffmnet ...`` command it prints.
Each final checkpoint is copied to ``semcom_sim/models/ffmnet/checkpoints/<name>/``.
"""

import shutil
import sys
import time

from semcom_sim.models.ffmnet.pretrained import CHECKPOINT_DIR
from semcom_sim.options import ArgParser
from semcom_sim.training import load_trainers

COMMON = [
    "--preset", "tiny", "--stage", "jscc", "--lr", "2e-3", "--batch-size", "16",
    "--train-examples", "4000", "--seed", "0", "--threads", "1",
    "--checkpoint-every", "100", "--log-every", "50",
]  # fmt: skip
RUNS = [  # (ratio, SNR_train, steps)
    ("512x", "5", 300),
    ("512x", "0", 300),
    ("512x", "10", 300),
    ("512x", "noiseless", 300),
    ("128x", "noiseless", 150),
    ("256x", "noiseless", 150),
    ("1024x", "noiseless", 150),
]

def main(argv: list[str] | None = None) -> int:
    """Train every run of :data:`RUNS` (resumable: rerun to continue)."""
    p = ArgParser(prog="semcom-sim study ffmnet-jscc", description=__doc__.splitlines()[0])
    p.add_argument("--work", default="runs", help="training directories")
    p.parse_args([] if argv is None else argv)
    train = load_trainers().create("ffmnet")
    for ratio, snr, steps in RUNS:
        name = f"jscc-{ratio}-" + ("noiseless" if snr == "noiseless" else f"snr{snr}")
        argv = [*COMMON, "--ratio", ratio, "--snr-train", snr]
        argv += ["--steps", str(steps), "--lr-decay-at", str(steps * 4 // 5)]
        argv += ["--out", f"runs/{name}"]
        print("semcom-sim train ffmnet " + " ".join(argv), flush=True)
        t0 = time.perf_counter()
        if train(argv) != 0:
            sys.exit(f"{name} failed")
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        shutil.copytree(f"runs/{name}/final", CHECKPOINT_DIR / name, dirs_exist_ok=True)
    return 0
