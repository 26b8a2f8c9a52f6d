#!/usr/bin/env bash
# Issue 28's world-model stage, for longer than 2 CPU cores allow: the pixel-space denoiser (32x32 grid, warp,
# a one-pass regression at sigma 100) trained on counterfactual branch groups with contrast 30 and branch weight
# 300 (RESULTS.md, Controllability: 40.1% at H = 3 after 3,000 CPU steps of batch 32), twice side by side:
#   oracle  conditioned on the one-hot true move (tools/action_oracle_experiment.py): does it climb with compute?
#   latent  conditioned on the shipped latent action model's latent of each outcome (train-wm --branches): the
#           design the simulator ships, scored on the benchmark's "world model, true latents" row.
# Each trains T minutes (default 6) on batches of B outcomes (default 256) fed by W data workers, is scored on
# the controllability benchmark's test states (10 games, 16 states each), and its model comes back through $OUT.
#
#   OUT=out bash tools/gpu_branches.sh        (knobs: T, B, W, LR, R run folder, DEVICE for scoring, default cuda)
# Through the device tool: carry .whl and .whl-procgen (../shared/tools/device-wheels.sh); tools/gpu_site.sh
# installs them.
set -u
T=${T:-6}; B=${B:-256}; W=${W:-6}; LR=${LR:-1e-3}; R=${R:-runs/gpu-branches}; DEVICE=${DEVICE:-cuda}
OUTDIR=${OUT:-/tmp/devout}
mkdir -p "$OUTDIR" "$R"
source tools/gpu_site.sh
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20 OMP_NUM_THREADS=2
GAMES=maze,heist,jumper,caveflyer,coinrun,bigfish,starpilot,chaser,climber,miner
NOISE='"sigma_max": 100.0, "train_log_sigma_mean": 4.605, "train_log_sigma_std": 0.01, "memory_noise_max": 0.0,
  "condition_dropout": 0.0, "condition_channels": 8, "warp": true'
COMMON="--steps 1000000 --time-limit $T --batch-size $B --num-workers $W --lr $LR --warmup-steps 100 --policy held
  --branches --contrast 30 --branch-weight 300 --games $GAMES"
date; nvidia-smi --query-gpu=name,memory.used --format=csv,noheader 2>/dev/null
$PY tools/action_oracle_experiment.py --out $R/oracle $COMMON --fold 2 --widths 16,32,64,128 --actions moves \
  --denoising-steps 1 --device $DEVICE --denoiser "{$NOISE}" > $R/oracle.log 2>&1 & PIDS="$!"
$PY -m adaworld_gym train-wm --out $R/latent $COMMON --pixel-space --pixel-fold 2 --condition latent_action \
  --image-every 0 --denoiser "{\"widths\": [16, 32, 64, 128], \"norm_groups\": 8, $NOISE}" > $R/latent.log 2>&1 &
PIDS="$PIDS $!"
wait $PIDS
date
$PY benchmarks/controllability.py --simulator latent=$R/latent/model,- --states 16 --clips 8 --denoising-steps 1 \
  --device $DEVICE --out $R/controllability > $R/controllability.log 2>&1
for m in oracle latent; do
  echo "== $m"; tail -c 400 $R/$m.log | tr '\r' '\n' | tail -2
  tar -cf "$OUTDIR/$m.tar" $R/$m/model $R/$m/tb $R/$m/train_config.json $R/$m.log
done
cp $R/oracle/controllability.json "$OUTDIR/oracle.json"
tar -cf "$OUTDIR/controllability.tar" $R/controllability $R/controllability.log
tail -20 $R/controllability.log; ls -la "$OUTDIR"; date
