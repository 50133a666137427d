#!/usr/bin/env bash
# The main job of the README (`npm run demo`): generate a synthetic detection data set, train a detector
# on it from scratch, and measure it on the held-out split.
#   npm run demo                          # YOLOv2-tiny-style (cfg/yolov2-tiny-synth.cfg) on the CPU
#   npm run demo -- --device cuda         # the same on the GPU
#   npm run demo -- --model yolov1        # YOLOv1-tiny-style (cfg/yolov1-tiny-synth.cfg)
#   npm run demo -- --out DIR             # where data, weights and the chart go (default ./demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=demo
device=cpu
model=yolov2
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "demo: unknown argument '$1' (use --device, --out, --model yolov2|yolov1)" >&2; exit 2 ;;
  esac
done
case "$model" in
  yolov2) cfg=cfg/yolov2-tiny-synth.cfg ;;
  yolov1) cfg=cfg/yolov1-tiny-synth.cfg ;;
  *) echo "demo: --model must be yolov2 or yolov1" >&2; exit 2 ;;
esac
name=$(basename "$cfg" .cfg)
tsgrad="node bin/tsgrad.js"
if [ ! -f "$out/data/synth.data" ]; then
  $tsgrad data synth --out "$out/data" --train 1500 --valid 200 --classes 3 --size 96 --seed 1
fi
start=$(date +%s)
$tsgrad detector train "$out/data/synth.data" "$cfg" --backup "$out/backup-$name" --device "$device" --map-every 250 --precise-bn 4
echo "trained in $(( $(date +%s) - start )) s"
$tsgrad detector map "$out/data/synth.data" "$cfg" "$out/backup-$name/${name}_final.weights" --device "$device" --ap all
first=$(head -n 1 "$out/data/valid.txt")
$tsgrad detector test "$out/data/synth.names" "$cfg" "$out/backup-$name/${name}_final.weights" "$out/data/$first" --device "$device" --thresh 0.3 --out "$out/predictions-$name.png"
echo "chart: $out/backup-$name/chart.png"
