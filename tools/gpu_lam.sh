#!/usr/bin/env bash
# Issue 28's latent-action stage, for longer than 2 CPU cores allow. On the CPU, training the latent action model
# on counterfactual branches, with or without the pretraining games' move labels, gave no net gain in 2,000-2,400
# steps, while a supervised classifier was still climbing when its 15 minutes ran out (RESULTS.md,
# Controllability). Does GPU-length training make the latents carry the move? Two runs side by side, both
# fine-tuned from the shipped lam-cpu on the branch stream of the 12 pretraining games (the 4 held-out games of
# the adaptation benchmark never seen):
#   label-free  train-lam --branches --branch-weight 300 (learning from action-free video, the paper's claim)
#   labels      the same with --label-weight 0.3 (each branch labelled with its Procgen move)
# Each trains T minutes (default 6) on batches of B branch groups (default 128) fed by W data workers, then both
# are scored together with lam-cpu on the controllability benchmark (the latent action decoder given the true
# latents; test levels, 10 games, 16 states each); the models come back through $OUT.
#
#   OUT=out bash tools/gpu_lam.sh        (knobs: T, B, W, LR, R run folder, DEVICE for scoring, default cuda;
#                                         PARALLEL=0 trains one after the other, as 2 CPU cores must)
# Through the device tool: carry .whl and .whl-procgen (../shared/tools/device-wheels.sh); tools/gpu_site.sh
# installs them.
set -u
T=${T:-6}; B=${B:-128}; W=${W:-6}; LR=${LR:-3e-4}; R=${R:-runs/gpu-lam}; DEVICE=${DEVICE:-cuda}; PARALLEL=${PARALLEL:-1}
OUTDIR=${OUT:-/tmp/devout}
mkdir -p "$OUTDIR" "$R"
source tools/gpu_site.sh
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20 OMP_NUM_THREADS=2
GAMES=bossfight,caveflyer,chaser,climber,coinrun,dodgeball,heist,jumper,leaper,maze,miner,plunder
COMMON="--finetune-of adaworld_gym/weights/lam-cpu --branches --branch-weight 300 --games $GAMES --steps 1000000
  --time-limit $T --batch-size $B --num-workers $W --lr $LR --warmup-steps 50 --kl-free-steps 0 --kl-warmup-steps 0
  --image-every 0"
date; nvidia-smi --query-gpu=name,memory.used --format=csv,noheader 2>/dev/null
PIDS=""
for run in label-free labels; do
  extra=$([ $run = labels ] && echo "--label-weight 0.3")
  $PY -m adaworld_gym train-lam --out $R/$run $COMMON $extra > $R/$run.log 2>&1 &
  PIDS="$PIDS $!"
  [ "$PARALLEL" = 1 ] || wait $!
done
wait $PIDS
date
$PY benchmarks/controllability.py --simulator shipped=adaworld_gym/weights/wm-cpu,- \
  --lam label-free=$R/label-free/model --lam labels=$R/labels/model --lam cpu=adaworld_gym/weights/lam-cpu \
  --states 16 --clips 0 --device $DEVICE --out $R/controllability > $R/controllability.log 2>&1
for run in label-free labels; do
  echo "== $run"; tail -c 400 $R/$run.log | tr '\r' '\n' | tail -2
  tar -cf "$OUTDIR/$run.tar" $R/$run/model $R/$run/tb $R/$run/train_config.json $R/$run.log
done
tar -cf "$OUTDIR/controllability.tar" $R/controllability $R/controllability.log
tail -20 $R/controllability.log; ls -la "$OUTDIR"; date
