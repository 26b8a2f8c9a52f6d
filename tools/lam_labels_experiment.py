"""The labelled latent action model experiment of RESULTS.md (Controllability): the shipped `lam-cpu` fine-tuned
with an action head on its latent, at a learning rate and warm-up the `train-lam` CLI does not expose (a fresh
head learns too slowly at the default 3e-4 after 300 warm-up steps: label cross-entropy stayed at chance, 2.7,
for 555 steps).

    python tools/lam_labels_experiment.py --out runs/lam-labels2 --minutes 12 --label-weight 0.1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adaworld_gym.training.train_lam import LamTrainConfig, train_lam
from adaworld_gym.weights import pretrained_path

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--minutes", type=float, default=12.0)
parser.add_argument("--label-weight", type=float, default=0.1)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--warmup-steps", type=int, default=50)
args = parser.parse_args()
config = LamTrainConfig(out=args.out, finetune_of=pretrained_path("lam-cpu"), label_weight=args.label_weight,
                        kl_free_steps=0, kl_warmup_steps=0, batch_size=32, steps=100_000, time_limit=args.minutes,
                        lr=args.lr, warmup_steps=args.warmup_steps, image_every=0)
print(train_lam(config))
