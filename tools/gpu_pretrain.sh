#!/usr/bin/env bash
# The GPU run that made the shipped lam-cpu and wm-cpu (2026-11-26, one NVIDIA H200, 500 s of wall time).
# Phase A trains the latent action model (Gaussian and VQ) and the frame autoencoder side by side; phase B trains
# four world models on them (latent actions, VQ latent actions, flow, action-agnostic), all clock-limited
# (--time-limit); then the GPU rollout-speed benchmark, and the exported models are packed into $OUT.
#
# On any machine with the project installed: `OUT=out bash tools/gpu_pretrain.sh`. Environment knobs: TA / TB (minutes
# of phases A / B), R (run folder), PHASE_A=0 (skip phase A: phase B then uses the shipped latent action model and
# autoencoder, and $LAMVQ, default $R/lam-vq/model, for the VQ model), GAMES (comma-separated games for phase B, default all 16: the
# 12-game pretraining of the adaptation benchmark passes its 12), SPEED=0 (skip the rollout-speed benchmark), CONDS (the world models
# of phase B, default "latent none flow vq"; "hint" is the latent-action model with --hint --hint-noise). On a bare GPU host,
# tools/gpu_site.sh brings the dependencies (.whl and .whl-procgen, or .devsite/).
set -u
TA=${TA:-3.75}; TB=${TB:-3}; W=${W:-3}; WA=${WA:-4}; OUTDIR=${OUT:-/tmp/devout}; R=${R:-runs/gpu}
PHASE_A=${PHASE_A:-1}; SPEED=${SPEED:-1}; GAMES_OPT=${GAMES:+--games $GAMES}; CONDS=${CONDS:-latent none flow vq}
mkdir -p "$OUTDIR" "$R"
source tools/gpu_site.sh
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20 OMP_NUM_THREADS=2
A="$PY -m adaworld_gym"
date; nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv 2>/dev/null
( while sleep 30; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null; uptime; done ) > "$R/gpu_usage.log" 2>&1 &
MON=$!

if [ $PHASE_A = 1 ]; then
  $A train-lam --out $R/lam --preset cpu --batch-size 128 --steps 1000000 --time-limit $TA --kl-free-steps 1500 \
    --kl-warmup-steps 1000 --num-workers $WA --image-every 0 > $R/lam.log 2>&1 & PIDS="$!"
  $A train-lam --out $R/lam-vq --preset cpu --quantizer vq --batch-size 128 --steps 1000000 --time-limit $TA \
    --num-workers $WA --image-every 0 > $R/lam-vq.log 2>&1 & PIDS="$PIDS $!"
  $A train-ae --out $R/ae --batch-size 64 --steps 1000000 --time-limit $TA --num-workers $W --image-every 0 \
    > $R/ae.log 2>&1 & PIDS="$PIDS $!"
  wait $PIDS
  date
fi
LAM=$R/lam/model; [ -f $LAM/config.json ] || LAM=adaworld_gym/weights/lam-cpu
LAMVQ=${LAMVQ:-$R/lam-vq/model}
AE=$R/ae/model; [ -f $AE/config.json ] || AE=adaworld_gym/weights/wm-cpu/autoencoder
echo "phase B with LAM=$LAM AE=$AE"
PIDS=""
for c in $CONDS; do
  case $c in
    latent) extra="--condition latent_action --latent-action-model $LAM";;
    hint) extra="--condition latent_action --latent-action-model $LAM --hint --hint-noise";;
    vq) extra="--condition latent_action --latent-action-model $LAMVQ";;
    *) extra="--condition $c";;
  esac
  $A train-wm --out $R/wm-$c --autoencoder $AE $extra $GAMES_OPT --batch-size 64 --steps 1000000 --time-limit $TB \
    --num-workers $W --image-every 0 > $R/wm-$c.log 2>&1 & PIDS="$PIDS $!"
done
wait $PIDS
kill $MON 2>/dev/null
date
for m in $([ $PHASE_A = 1 ] && echo lam lam-vq ae) $(for c in $CONDS; do echo wm-$c; done); do
  echo "== $m"; tail -c 600 $R/$m.log | tr '\r' '\n' | tail -3
  $PY -c "import json,sys; m=json.load(open(sys.argv[1]))['metadata']; print({k: m.get(k) for k in ('trained_steps','trained_seconds','batch_size')})" $R/$m/model/config.json
done
[ $PHASE_A = 1 ] && tar -cf "$OUTDIR/lam-ae.tar" $R/lam/model $R/lam-vq/model $R/ae/model $R/lam/tb $R/lam-vq/tb $R/ae/tb
for c in $CONDS; do tar -cf "$OUTDIR/wm-$c.tar" $R/wm-$c/model $R/wm-$c/tb $R/wm-$c/train_config.json; done
tar -cf "$OUTDIR/logs.tar" $R/*.log $R/*/train_config.json
[ $SPEED = 1 ] && $PY benchmarks/rollout_speed.py --device cuda --batches 1 16 256 --out "$OUTDIR/speed" 2>&1 | tail -6
ls -la "$OUTDIR" "$OUTDIR/speed"; date
