"""Short T-DeepSC text-reconstruction probe (see README.md in this folder).

    python results/udeepsc/textr_probe/probe.py OVERRIDES_JSON STEPS LR

Environment: POS_STD, TOK_STD (re-initialise the receiver's text position table / the text
token embedding with this std), IGNORE_PAD=1 (cross-entropy without padding positions),
NOISELESS=1 (channel=None in training and evaluation), TRAIN_NOISELESS=1 (channel=None in
training only), SNR_LO (training SNR uniform in [SNR_LO, 12] dB, default 0), CURRIC=N (the lower
end starts at 12 dB and falls linearly to SNR_LO over N steps), EVERY (steps between evaluations,
default 200).
"""

import json
import os
import sys
import time

import torch

import semcom_sim.models.udeepsc.config as C
import semcom_sim.models.udeepsc.losses as L
from semcom_sim.channel import CHANNELS
from semcom_sim.models.udeepsc import trainers as T
from semcom_sim.models.udeepsc.model import UDeepSC

torch.set_num_threads(1)
if os.environ.get("IGNORE_PAD"):
    _task_loss = L.task_loss

    def task_loss(kind, output, target, ignore_id=None):
        if kind == "text_reconstruction":
            return torch.nn.functional.cross_entropy(output.transpose(1, 2), target, ignore_index=0)
        return _task_loss(kind, output, target, ignore_id)

    L.task_loss = task_loss

over = json.loads(sys.argv[1])
steps, lr = int(sys.argv[2]), float(sys.argv[3])
T.preset_config = lambda name, **kw: C.UDeepSCConfig(**{**over, **kw})
cfg, adapter, sets = T.prepare_data(("textr",), "tiny", None, 0, None)
data = sets["textr"]
torch.manual_seed(0)
model = UDeepSC(cfg)
if os.environ.get("POS_STD"):
    pos = model.receiver.channel_decoder.pos["text"]
    torch.nn.init.normal_(pos, std=float(os.environ["POS_STD"]))
if os.environ.get("TOK_STD"):
    tok = model.transmitters["text"].embed.tokens.weight
    torch.nn.init.normal_(tok, std=float(os.environ["TOK_STD"]))
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-3)
channel = None if os.environ.get("NOISELESS") else CHANNELS.create("awgn")
TRAIN_CH = None if os.environ.get("TRAIN_NOISELESS") else channel
g = torch.Generator()
g.manual_seed(0)
t0 = time.time()


def evaluate() -> tuple[float, int]:
    """Word-token accuracy (ids > 3) at 12 dB on 256 training sentences, distinct index pairs."""
    model.eval()
    b = data.batch(torch.arange(256), 0, "cpu")
    with torch.no_grad():
        snr = torch.full((256,), 12.0)
        out = model("textr", snr, channel, g, text=b["text"], exit_threshold=1.0)
    model.train()
    pred, t = out["output"].argmax(-1), b["target"]
    idx = out["indices"].get("text")
    codes = -1 if idx is None else len(set(map(tuple, idx.reshape(-1, 2).tolist())))
    return (pred == t)[t > 3].float().mean().item(), codes


for step in range(steps):
    for group in opt.param_groups:
        group["lr"] = T.lr_at(step, steps, lr, 50)
    b = data.batch(torch.randint(len(data), (32,), generator=g), 0, "cpu")
    lo0 = float(os.environ.get("SNR_LO", 0))
    cur = int(os.environ.get("CURRIC", 0))
    lo = 12 - (12 - lo0) * min(1.0, step / cur) if cur else lo0
    snr = lo + (12 - lo) * torch.rand(32, generator=g)  # lo = 0: the original probe
    loss, logged = T._single_task_loss(model, b, snr, 1 + (step % 2 == 1), g, TRAIN_CH)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    model.after_step(g)
    if (step + 1) % int(os.environ.get("EVERY", 200)) == 0:
        print(step + 1, round(logged["task"], 3), evaluate(), round(time.time() - t0), flush=True)
