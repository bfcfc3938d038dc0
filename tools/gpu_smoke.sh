#!/usr/bin/env bash
# GPU smoke test: a few steps of both training scripts on CUDA (paper preset, bf16 autocast), a two-GPU torchrun
# when there are two, and `jhod sample` on the GPU. Prints one line per check and exits non-zero on the first
# failure. Run from the repository root in an environment with a CUDA torch:
#
#   bash tools/gpu_smoke.sh [OUT=out/gpu_smoke]
set -euo pipefail
OUT=${1:-out/gpu_smoke}
mkdir -p "$OUT"
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print("cuda:", torch.cuda.get_device_name(0), "x", torch.cuda.device_count(), "| torch", torch.__version__)
PY
python training/train_autoencoder.py --out "$OUT/ae" --steps 50 --batch 32 --eval-every 50 --device cuda --amp \
  --no-progress | tail -1
python training/train_diffusion.py --autoencoder "$OUT/ae/autoencoder.pt" --out "$OUT/denoiser" --preset paper \
  --steps 50 --batch 64 --eval-every 50 --device cuda --amp --no-progress | tail -1
if [ "$(python -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  torchrun --standalone --nproc_per_node 2 training/train_diffusion.py --autoencoder "$OUT/ae/autoencoder.pt" \
    --out "$OUT/denoiser_ddp" --preset paper --steps 20 --batch 32 --eval-every 20 --device cuda --amp \
    --no-progress | tail -1
fi
python training/export_weights.py --autoencoder "$OUT/ae/autoencoder.pt" --denoiser "$OUT/denoiser/denoiser.pt" \
  --out "$OUT/weights" | tail -1
jhod sample data/objects/meshes/pb_named_mug.ply --num 64 --device cuda --weights "$OUT/weights" --out "$OUT/mug"
echo "gpu smoke test passed"
