#!/usr/bin/env bash
# Run the workflow on a GPU node (JAX backend), one Snakemake per config, side by side.
#
#   tools/gpu_workflow.sh DATA_DIR RESULTS_TAR SECONDS CONFIG [CONFIG ...]
#
# Each CONFIG (overlays merged over config.yaml, e.g. config.paper.yaml, or
# several joined by '+': config.paper.yaml+experiments/paper-30-epochs.yaml) runs in its
# own copy of the workflow under /tmp/wf-<first config's name>, with the
# workflow's own determinism settings; TensorBoard is skipped where TensorFlow
# is missing. Every train_cnn job gets 2 threads so that all variants train at
# once and share the GPU (XLA_PYTHON_CLIENT_PREALLOCATE=false: each process
# takes GPU memory as it needs it). After SECONDS the runs are stopped
# (SIGTERM), and whatever finished is packed into RESULTS_TAR: metrics, histories,
# figures, summaries, logs, benchmarks, and every model's val/test probabilities (so
# that other equal-weight ensembles of its models can be scored afterwards). With
# RESUME=1 the copies of an earlier run on the same machine (its /tmp/wf-* folders)
# are kept: Snakemake reruns what was cut off, and each train_cnn resumes from its
# last finished epoch. See docs/gpu.md.
set -uo pipefail
data=$1 tar=$2 seconds=$3
shift 3
repo=$(cd "$(dirname "$0")/.." && pwd)
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
pids=()
for cfg in "$@"; do
  IFS=+ read -ra files <<<"$cfg"
  name=$(basename "${files[0]}" .yaml)
  dir=/tmp/wf-$name
  [ "${RESUME:-0}" = 1 ] || rm -rf "$dir"
  mkdir -p "$dir"
  cp -rp "$repo"/{Snakefile,rules,scripts,schemas,report,profiles,envs,config.yaml} "$dir"/
  overlays=()
  for i in "${!files[@]}"; do
    cp -p "$repo/${files[$i]}" "$dir/overlay$i.yaml" && overlays+=("overlay$i.yaml")
  done
  (cd "$dir" && if [ "${RESUME:-0}" = 1 ]; then  # a run stopped by timeout may leave its lock
    ${PYTHON:-python3} -m snakemake --unlock --configfile "${overlays[@]}" \
      --config data_dir="$data" >/dev/null 2>&1
  fi
    exec timeout "$seconds" ${PYTHON:-python3} -m snakemake --cores "$(nproc)" \
    --set-threads train_cnn=2 --keep-going --rerun-incomplete --configfile "${overlays[@]}" \
    --config data_dir="$data" >>snakemake.log 2>&1) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
cd /tmp && tar czf "$tar" --ignore-failed-read \
  wf-*/snakemake.log wf-*/logs wf-*/benchmarks wf-*/results/metrics wf-*/results/figures \
  wf-*/results/*/*/metrics.json wf-*/results/*/*/history.csv wf-*/results/*/*/report.csv \
  wf-*/results/*/*/grid.csv wf-*/results/*/*/confusion.png wf-*/results/*/*/*_proba.npy \
  wf-*/results/submission.csv 2>/dev/null
ls -la "$tar"
