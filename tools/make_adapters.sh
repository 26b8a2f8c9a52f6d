#!/usr/bin/env bash
# Remake the shipped adapters (adaworld_gym/weights/adapters/<game>-<full|moves>) on the shipped wm-cpu: the
# averaged-latent action table (no fine-tuning) and the reward / episode-end model, from 100 random transitions
# per action of each game's training levels. About 85 s per adapter on 2 CPU cores (the reward model's 1,500
# steps), 45 minutes for all 32. Collects the few-shot data first if data/fewshot-<subset> is missing.
# Knobs: GAMES (comma-separated, default all 16), SUBSETS (default "full moves"), STAGE (folder the new adapters
# are written to before they replace the shipped ones, default runs/adapters-new), WM (the world model, default
# the shipped one), REWARD_FROM (a folder of adapters whose reward models are kept instead of refitted: they read
# real frames and actions only, so a new world model can reuse them; a few seconds per adapter instead of 85),
# REPLACE (0: leave the shipped adapters alone, only fill the stage; the default when WM is set).
set -eu
ALL=bigfish,bossfight,caveflyer,chaser,climber,coinrun,dodgeball,fruitbot,heist,jumper,leaper,maze,miner,ninja,plunder,starpilot
GAMES=${GAMES:-$ALL}; SUBSETS=${SUBSETS:-full moves}; STAGE=${STAGE:-runs/adapters-new}
WM=${WM:-}; REWARD_FROM=${REWARD_FROM:-}
REPLACE=${REPLACE:-$([ -z "$WM" ] && echo 1 || echo 0)}  # adapters of another world model do not replace
SHIPPED=adaworld_gym/weights/adapters
for subset in $SUBSETS; do
  [ -d "data/fewshot-$subset" ] || adaworld collect --out "data/fewshot-$subset" --games all --per-action 100 \
      --actions "$subset" --split train --policy random  # the shipped adapters: a new action every step
  for game in ${GAMES//,/ }; do
    # An adapter whose config is in the stage is complete (the config is written last): a rerun resumes.
    [ -f "$STAGE/$game-$subset/config.json" ] && continue
    adaworld adapt --game "$game" --dataset "data/fewshot-$subset" --actions "$subset" --finetune-steps 0 \
        --out "$STAGE/$game-$subset" ${WM:+--world-model "$WM"} \
        ${REWARD_FROM:+--reward-model-from "$REWARD_FROM/$game-$subset"}
  done
done
[ "$REPLACE" = 1 ] || { echo "adapters in $STAGE"; exit 0; }
replaced=0
for subset in $SUBSETS; do
  for game in ${GAMES//,/ }; do
    rm -rf "$SHIPPED/$game-$subset" && cp -r "$STAGE/$game-$subset" "$SHIPPED/$game-$subset"
    replaced=$((replaced + 1))
  done
done
echo "replaced $replaced adapters in $SHIPPED"
