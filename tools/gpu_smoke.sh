#!/usr/bin/env bash
# GPU smoke test: a few steps of both training scripts on CUDA (paper preset, bf16 autocast), a two-GPU torchrun
# when there are two, export, and `jhod sample` on the GPU. Prints one line per check and exits non-zero on the
# first failure. Run from the repository root in an environment with a CUDA torch:
#
#   bash tools/gpu_smoke.sh [OUT=out/gpu_smoke]
#
# SMOKE_DEVICE=cpu SMOKE_STEPS=2 runs the same commands on the CPU (no autocast): a check of the script itself.
set -euo pipefail
OUT=${1:-out/gpu_smoke}
DEVICE=${SMOKE_DEVICE:-cuda}
STEPS=${SMOKE_STEPS:-50}
AMP=$([ "$DEVICE" = cuda ] && echo --amp || true)
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
  python -c 'import torch; assert torch.cuda.is_available(), "no CUDA device visible to torch"; print("cuda:", torch.cuda.get_device_name(0), "x", torch.cuda.device_count(), "| torch", torch.__version__)'
fi
python training/train_autoencoder.py --out "$OUT/ae" --steps "$STEPS" --batch 32 --eval-every "$STEPS" \
  --device "$DEVICE" $AMP --no-progress | tail -1
python training/train_diffusion.py --autoencoder "$OUT/ae/autoencoder.pt" --out "$OUT/denoiser" --preset paper \
  --steps "$STEPS" --batch 64 --eval-every "$STEPS" --eval-batches 1 --device "$DEVICE" $AMP --no-progress | tail -1
if [ "$DEVICE" = cuda ] && [ "$(python -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  torchrun --standalone --nproc_per_node 2 training/train_diffusion.py --autoencoder "$OUT/ae/autoencoder.pt" \
    --out "$OUT/denoiser_ddp" --preset paper --steps 20 --batch 32 --eval-every 20 --eval-batches 1 --device cuda \
    --amp --no-progress | tail -1
fi
python training/export_weights.py --autoencoder "$OUT/ae/autoencoder.pt" --denoiser "$OUT/denoiser/denoiser.pt" \
  --out "$OUT/weights" | tail -1
jhod sample data/objects/meshes/pb_named_mug.ply --num 64 --device "$DEVICE" --weights "$OUT/weights" --out "$OUT/mug"
echo "smoke test passed on $DEVICE"
