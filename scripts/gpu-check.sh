#!/usr/bin/env bash
# A real-GPU check for Enclave, for a machine lent for a few minutes that has an NVIDIA GPU, Python
# with torch, transformers and peft, and nothing else: no Node, no network, no trl, no datasets.
#
# It saves into $OUT (default ./gpu-check-out) what Enclave parses from nvidia-smi, exactly as the
# agent asks for it, runs both trainers' --self-test on the GPU, and prints one summary line.
# At most 8 files, flat, with plain names: what a lent machine sends back (see the device notes).
#
#   query-gpu.csv     nvidia-smi --query-gpu=<Enclave's fields> --format=csv,nounits
#   compute-apps.csv  nvidia-smi --query-compute-apps=<Enclave's fields> --format=csv,nounits
#                     (taken while lora_sft.py runs, so it shows a real process when it can)
#   topo.txt          nvidia-smi topo -m
#   nvidia-smi.txt    plain nvidia-smi (the only place that prints the CUDA version the driver supports)
#   nvidia-smi-q.txt  nvidia-smi -q (everything, for reading by eye)
#   lora_sft.jsonl    stdout of trainers/lora_sft.py --self-test (the trainer protocol)
#   quantize.jsonl    stdout of trainers/quantize.py --self-test
#   gpu-check.log     each step: command, exit code, seconds, stderr; the summary line last
#
# Exit code: 0 when everything passed; +1 when a self-test failed; +2 when nvidia-smi saw no GPU.
# Environment: OUT, GPU_CHECK_PYTHON (default python3), GPU_CHECK_TIMEOUT_S (per self-test, default 300).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-./gpu-check-out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$repo"
python="${GPU_CHECK_PYTHON:-python3}"
limit="${GPU_CHECK_TIMEOUT_S:-300}"
log="$out/gpu-check.log"
# An earlier run's files in the same folder would pass for this run's (a capture this run failed to take).
rm -f "$out"/{query-gpu.csv,compute-apps.csv,topo.txt,nvidia-smi.txt,nvidia-smi-q.txt,lora_sft.jsonl,quantize.jsonl}
: >"$log"
# Scratch space outside $OUT, so only the files above come back; the trainers' temp dirs land here too.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Enclave's queries, as server/gpu/inventory.ts runs them with INVENTORY_QUERY_FIELDS and
# COMPUTE_APPS_FIELDS (server/gpu/nvidia-smi/). gpu-check.test.ts beside those files fails when these drift.
QUERY_GPU=(--query-gpu=index,name,uuid,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,driver_version,mig.mode.current --format=csv,nounits)
COMPUTE_APPS=(--query-compute-apps=gpu_uuid,pid,process_name,used_gpu_memory --format=csv,nounits)
# The agent gives nvidia-smi 15 s: a hung driver must not hang the check either.
SMI_TIMEOUT=15

now_ms() { date +%s%3N; }
seconds_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# capture FILE ARGS...: nvidia-smi ARGS into $out/FILE, verbatim. On failure the output goes to the log
# instead (nvidia-smi prints its errors on stdout), so no failed call poses as a capture.
capture() {
  local file="$1" rc=0
  shift
  timeout "$SMI_TIMEOUT" nvidia-smi "$@" >"$out/$file" 2>"$scratch/stderr" || rc=$?
  echo "== nvidia-smi $* > $file: exit $rc" >>"$log"
  # timeout's own words for a missing program are long; this is what it means here.
  if [ "$rc" -eq 127 ]; then echo "nvidia-smi not found: no NVIDIA driver on this machine" >"$scratch/stderr"; fi
  if [ "$rc" -ne 0 ]; then
    cat "$out/$file" >>"$log"
    rm -f "$out/$file"
  fi
  cat "$scratch/stderr" >>"$log"
  return "$rc"
}

# While the fine-tune self-test runs, ask for compute apps until a process shows up: a capture of
# Enclave's own query with a real PyTorch process on the GPU. The idle capture stays otherwise.
watch_compute_apps() {
  while kill -0 "$1" 2>/dev/null; do
    if timeout "$SMI_TIMEOUT" nvidia-smi "${COMPUTE_APPS[@]}" >"$scratch/apps.csv" 2>/dev/null &&
      [ "$(grep -c . "$scratch/apps.csv")" -gt 1 ]; then
      cp "$scratch/apps.csv" "$out/compute-apps.csv"
      echo "== compute apps captured again while lora_sft.py ran: $(($(grep -c . "$out/compute-apps.csv") - 1)) process(es)" >>"$log"
      return 0
    fi
    sleep 0.5
  done
}

# --- nvidia-smi -------------------------------------------------------------------------------------
gpu_status=0
if ! capture query-gpu.csv "${QUERY_GPU[@]}"; then
  gpu_status=2
fi
if [ "$gpu_status" -eq 0 ]; then
  capture compute-apps.csv "${COMPUTE_APPS[@]}" || true
  capture topo.txt topo -m || true
  capture nvidia-smi.txt || true
  capture nvidia-smi-q.txt -q || true
fi

# --- trainers -------------------------------------------------------------------------------------
# Offline on purpose: the self-tests build their tiny model and data in memory, and a lent machine
# reaches nothing; a library trying the Hugging Face hub would only wait for a timeout.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HOME="$scratch/hf"
# Progress bars would fill the log with carriage returns; unbuffered so a timeout keeps what was said.
export HF_HUB_DISABLE_PROGRESS_BARS=1 HF_DATASETS_DISABLE_PROGRESS_BARS=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TMPDIR="$scratch"

{
  echo "== $python: which packages are importable"
  "$python" -c 'import importlib.util as u, sys; print(sys.version.split()[0], *(n + ("" if u.find_spec(n) else ":absent") for n in ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "llmcompressor")))' 2>&1 || true
} >>"$log"

# run_self_test NAME SCRIPT: sets $result to "ok (N steps, S s)" or "failed ... (why)".
run_self_test() {
  local name="$1" script="$2" rc=0 start pid why
  start=$(now_ms)
  timeout "$limit" "$python" "trainers/$script" --self-test >"$out/$name.jsonl" 2>"$scratch/$name.err" &
  pid=$!
  if [ "$name" = lora_sft ] && [ "$gpu_status" -eq 0 ]; then watch_compute_apps "$pid"; fi
  wait "$pid" || rc=$?
  local took steps
  took=$(seconds_since "$start")
  steps=$(grep -c '"event": "step"' "$out/$name.jsonl" || true)
  { echo "== $python trainers/$script --self-test: exit $rc in $took s"; cat "$scratch/$name.err"; } >>"$log"
  if [ "$rc" -eq 0 ] && grep -q '"event": "done"' "$out/$name.jsonl"; then
    result="ok ($steps steps, $took s)"
    return 0
  fi
  # Why, in the order a reader wants it: the trainer's own error event, a timeout, stderr's last line.
  why=$(grep '"event": "error"' "$out/$name.jsonl" | tail -n 1 | sed -e 's/.*"message": "//' -e 's/"}$//' || true)
  if [ -z "$why" ] && [ "$rc" -eq 124 ]; then why="timed out after $limit s"; fi
  if [ -z "$why" ] && [ "$rc" -eq 127 ]; then why="$python not found"; fi
  if [ -z "$why" ]; then why=$(grep . "$scratch/$name.err" | tail -n 1 || true); fi
  if [ -z "$why" ] && [ "$rc" -eq 0 ]; then why="no done event"; fi
  result="failed in $took s (exit $rc: ${why:0:160})"
  return 1
}

trainer_status=0
result=""
run_self_test lora_sft lora_sft.py || trainer_status=1
lora_result="$result"
run_self_test quantize quantize.py || trainer_status=1
quantize_result="$result"

# --- summary --------------------------------------------------------------------------------------
# GPUs by column name, not position: the same line reads any --query-gpu capture with a header.
gpus="no GPU ($(grep -v '^==' "$log" | grep . | head -n 1 || echo 'failed'))"
if [ "$gpu_status" -eq 0 ]; then
  gpus=$(awk -F', ' '
    NR == 1 { for (i = 1; i <= NF; i++) { h = $i; sub(/ \[.*\]$/, "", h); col[h] = i }; next }
    NF > 1 {
      mem = col["memory.total"] ? $(col["memory.total"]) : "?"; gsub(/[^0-9]/, "", mem)
      key = $(col["name"]) " " (mem == "" ? "?" : mem) " MiB"
      if (!(key in n)) order[++k] = key
      n[key]++
    }
    END {
      if (k == 0) { print "no GPU listed"; exit }
      for (j = 1; j <= k; j++) s = s (j > 1 ? ", " : "") (n[order[j]] > 1 ? n[order[j]] "x " : "") order[j]
      print "GPU " s
    }' "$out/query-gpu.csv")
  case "$gpus" in "no GPU listed") gpu_status=2 ;; esac
fi
version() { # version LABEL: from the plain summary, else from -q
  local v=""
  [ -f "$out/nvidia-smi.txt" ] && v=$(grep -o "$1 Version: *[0-9.]*" "$out/nvidia-smi.txt" | head -n 1 | sed 's/.*: *//' || true)
  [ -z "$v" ] && [ -f "$out/nvidia-smi-q.txt" ] && v=$(grep -m 1 "$1 Version" "$out/nvidia-smi-q.txt" | sed 's/.*: *//' || true)
  echo "${v:-unknown}"
}
status=$((trainer_status + gpu_status))
files=$(find "$out" -maxdepth 1 -type f | wc -l)
summary="gpu-check: $gpus; driver $(version Driver), CUDA $(version CUDA); lora_sft $lora_result; quantize $quantize_result; $files files in $out; exit $status"
echo "$summary" >>"$log"
echo "$summary"
exit "$status"
