#!/usr/bin/env bash
# The generalization protocol's fine-tuned-encoder rows on a CUDA machine (the `device` tool's H200).
#
# 17 CPU fine-tunes do not fit in a working session; on one GPU they take minutes. The same code runs
# (`humanlike generalization --candidate transformer`): only the device differs. The report it writes
# is joined into the main one here with `humanlike generalization ... --merge REPORT`.
#
# The device machine reaches nothing outside and takes at most 64 MiB of working tree, so what it needs
# travels in .gpu/ (ignored by git; made here by `bash research/device_generalization.sh --prepare`):
#   .gpu/corpus/*.jsonl.xz   the corpus directory, recompressed (xz: 19 MB against gzip's 31 MB)
#   .gpu/minilm/             the packaged encoder, its weights xz-compressed float16 for the trip (41 MB),
#                            restored to float32 there before anything reads them
#   .gpu/whl/                pydantic and its needs (the machine's image has the rest)
# Run there: bash research/device_generalization.sh [--candidate NAME...] [generalization options]
#   (writes $OUT/generalization-device.json and its .scores.npz; default candidates: the encoder ones)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
    corpus=${HUMANLIKE_DATA:-../shared/corpus}
    mkdir -p .gpu/corpus .gpu/minilm .gpu/whl
    for f in "$corpus"/*.jsonl.gz; do
        zcat "$f" | xz -9 >".gpu/corpus/$(basename "$f" .gz).xz" &
    done
    wait
    .venv/bin/python - <<'PY'
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from humanlike.training.pretrained import default_base_model

src, dst = default_base_model(), Path(".gpu/minilm")
for f in src.iterdir():
    if f.name in ("model.safetensors", "README.md", "data_config.json"):  # the last two: within 64 MiB
        continue
    if f.is_dir():
        shutil.copytree(f, dst / f.name, dirs_exist_ok=True)
    else:
        shutil.copyfile(f, dst / f.name)
weights = load_file(src / "model.safetensors")
half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
save_file(half, dst / "model.fp16.safetensors", metadata={"format": "pt"})
PY
    xz -9 -f .gpu/minilm/model.fp16.safetensors
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 -d .gpu/whl pydantic==2.14.4 pydantic_core==2.50.5 \
        annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
    du -sh .gpu
    exit 0
fi

export PYTHONUNBUFFERED=1
if ! python3 -c "import pydantic" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .gpu/whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD
mkdir -p /tmp/corpus /tmp/minilm
python3 - <<'PY'
import lzma
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

for f in Path(".gpu/corpus").glob("*.xz"):
    with lzma.open(f) as src, open(Path("/tmp/corpus") / f.stem, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
for f in Path(".gpu/minilm").iterdir():
    if f.is_dir():
        shutil.copytree(f, Path("/tmp/minilm") / f.name, dirs_exist_ok=True)
    elif not f.name.endswith(".xz"):
        shutil.copyfile(f, Path("/tmp/minilm") / f.name)
with lzma.open(".gpu/minilm/model.fp16.safetensors.xz") as src, open("/tmp/minilm.fp16", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
weights = load_file("/tmp/minilm.fp16")
full = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
save_file(full, "/tmp/minilm/model.safetensors", metadata={"format": "pt"})
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print("torch", torch.__version__, "|", gpu)
PY
export HUMANLIKE_ENCODER=/tmp/minilm
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 -m humanlike generalization --corpus /tmp/corpus --out "$OUT/generalization-device.json" \
    --candidate transformer encoder-lr --no-progress "${@}"
