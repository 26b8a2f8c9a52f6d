# The labelled latent action model experiment (RESULTS.md: Controllability): lam-cpu fine-tuned with its action head.
import sys
from pathlib import Path
from adaworld_gym.training.train_lam import LamTrainConfig, train_lam
out, minutes, weight = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
config = LamTrainConfig(out=Path(out), finetune_of=Path("adaworld_gym/weights/lam-cpu"), label_weight=weight,
                        kl_free_steps=0, kl_warmup_steps=0, batch_size=32, steps=100000, time_limit=minutes,
                        lr=1e-3, warmup_steps=50, image_every=0)
print(train_lam(config))
