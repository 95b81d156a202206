#!/usr/bin/env bash
# Run the workflow on a GPU node (JAX backend), one Snakemake per config, side by side,
# and pack the results into one tarball.
#
#   tools/gpu_workflow.sh DATA_DIR RESULTS_TAR SECONDS CONFIG [CONFIG ...]
#
# DATA_DIR: a folder in the competition's layout (or "demo": the synthetic set).
# RESULTS_TAR: the tarball to write (e.g. results.tgz), relative to the current folder.
# SECONDS: the runs are stopped (SIGTERM) after that many seconds.
# CONFIG: overlays merged over config.yaml, one file (config.paper.yaml) or several joined
# by '+' (config.paper.yaml+experiments/paper-30-epochs.yaml); paths relative to the
# current folder or to the checkout.
#
# Python: $PYTHON, default the checkout's .venv/bin/python (docs/gpu.md installs
# requirements-gpu.txt there); it must run Snakemake and import jax, else the script
# stops before starting anything. Each CONFIG runs in its own copy of the workflow,
# /tmp/wf-<its files' names joined by '+'> (the copy's scripts/ on PYTHONPATH), with the
# workflow's own determinism settings; TensorBoard is skipped where TensorFlow is missing.
# Every train_cnn job gets 2 threads so that all variants train at once and share the
# GPU (XLA_PYTHON_CLIENT_PREALLOCATE=false: each process takes GPU memory as it needs it).
# Output of each run: /tmp/wf-*/snakemake.log.
#
# RESULTS_TAR then holds, under wf-<name>/, whatever finished: every model folder
# (results/<family>/<name>/ without tensorboard/: usable by predict and deepfake-predict
# as it is), results/metrics, figures, logs, benchmarks, report (and report.html, built
# once a run completes), unknowns, submission.csv, predictions.csv, the overlays and
# snakemake.log. Exit status: 0 when every run completed, 124 when one was stopped at
# SECONDS (rerun with RESUME=1), 1 when one failed (its log's tail is printed).
#
# RESUME=1 keeps the copies of an earlier run on the same machine (its /tmp/wf-* folders)
# and clears the lock a stopped run may leave: Snakemake reruns what was cut off, and
# each train_cnn resumes from its last finished epoch. See docs/gpu.md.
set -euo pipefail

die() {
  echo "tools/gpu_workflow.sh: $*" >&2
  exit 1
}
[ $# -ge 4 ] || die "usage: tools/gpu_workflow.sh DATA_DIR RESULTS_TAR SECONDS CONFIG [CONFIG ...]"
data=$1 tar=$2 seconds=$3
shift 3
repo=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp

# Arguments, resolved against the caller's folder before anything runs.
if [ "$data" != demo ]; then
  [ -d "$data" ] || die "DATA_DIR $data: no such folder"
  data=$(cd "$data" && pwd)
fi
case $seconds in '' | *[!0-9]*) die "SECONDS: a whole number of seconds, not '$seconds'" ;; esac
[ -d "$(dirname "$tar")" ] || die "RESULTS_TAR $tar: no folder $(dirname "$tar")"
tar=$(cd "$(dirname "$tar")" && pwd)/$(basename "$tar")

# Each CONFIG's files (absolute, one line each) and its copy's name.
names=() lists=()
for cfg in "$@"; do
  IFS=+ read -ra files <<<"$cfg"
  list="" name=""
  for f in "${files[@]}"; do
    [ -f "$f" ] || f=$repo/$f
    [ -f "$f" ] || die "CONFIG $cfg: no file $f (here or in $repo)"
    list+=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")$'\n'
    name+=${name:++}$(basename "$f" .yaml)
  done
  for other in ${names[@]+"${names[@]}"}; do
    [ "$other" != "$name" ] || die "two CONFIGs named $name"
  done
  names+=("$name") lists+=("$list")
done

# The Python environment: Snakemake, JAX and keras on JAX, checked before any run starts.
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python=${PYTHON:-$repo/.venv/bin/python}
if ! version=$("$python" -m snakemake --version 2>&1); then
  die "no Snakemake in $python ($(echo "$version" | tail -1)).
Install the GPU requirements into the checkout's .venv (docs/gpu.md), or set PYTHON to a
Python that has them (on a node without internet access: PYTHONPATH=<unpacked wheels>)."
fi
if ! error=$("$python" -c "import jax, keras" 2>&1); then
  die "$python cannot import jax and keras ($(echo "$error" | tail -1)).
Install requirements-gpu.txt (docs/gpu.md)."
fi
echo "Snakemake $version, $("$python" -c 'import jax; print("jax", jax.__version__, jax.devices())')"

pids=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  dir=$work/wf-$name
  [ "${RESUME:-0}" = 1 ] || rm -rf "$dir"
  mkdir -p "$dir"
  cp -rp "$repo"/{Snakefile,rules,scripts,schemas,report,profiles,envs,config.yaml} "$dir"/
  overlays=()
  while IFS= read -r f; do
    overlays+=("overlay${#overlays[@]}.yaml")
    cp -p "$f" "$dir/${overlays[-1]}"
  done <<<"${lists[$i]%$'\n'}"
  (
    cd "$dir"
    export PYTHONPATH=$dir/scripts${PYTHONPATH:+:$PYTHONPATH}
    args=(--configfile "${overlays[@]}" --config data_dir="$data")
    if [ "${RESUME:-0}" = 1 ]; then # a run stopped by timeout may leave its lock
      "$python" -m snakemake --unlock "${args[@]}" >>snakemake.log 2>&1 || true
    fi
    status=0
    timeout "$seconds" "$python" -m snakemake --cores "$(nproc)" --set-threads train_cnn=2 \
      --keep-going --rerun-incomplete "${args[@]}" >>snakemake.log 2>&1 || status=$?
    if [ "$status" = 0 ]; then # the HTML report (needs snakemake[reports])
      "$python" -m snakemake --report results/report.html "${args[@]}" >>snakemake.log 2>&1 ||
        echo "wf-$name: no results/report.html (see $dir/snakemake.log)" >&2
    fi
    exit "$status"
  ) &
  pids+=($!)
  echo "wf-$name: started, log $dir/snakemake.log"
done

worst=0
for i in "${!pids[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  dir=$work/wf-${names[$i]}
  case $status in
    0) echo "wf-${names[$i]}: completed" ;;
    124)
      echo "wf-${names[$i]}: stopped after $seconds s; rerun with RESUME=1 to go on" >&2
      [ "$worst" = 1 ] || worst=124
      ;;
    *)
      echo "wf-${names[$i]}: Snakemake failed (exit $status); the end of $dir/snakemake.log:" >&2
      tail -n 40 "$dir/snakemake.log" >&2
      worst=1
      ;;
  esac
done

# What finished, relative to $work: wf-<name>/...
packed=()
for name in "${names[@]}"; do
  for p in snakemake.log overlay*.yaml results/{metrics,figures,logs,benchmarks,report,unknowns} \
    results/{submission.csv,predictions.csv,report.html}; do
    for match in "$work/wf-$name"/$p; do
      [ -e "$match" ] && packed+=("${match#"$work"/}")
    done
  done
  # every model folder, of any family: the ones holding a model.json
  for card in "$work/wf-$name"/results/*/*/model.json; do
    [ -e "$card" ] && packed+=("$(dirname "${card#"$work"/}")")
  done
done
tar czf "$tar" --exclude=tensorboard -C "$work" "${packed[@]}"
echo "$tar: $(du -h "$tar" | cut -f1), $(tar tzf "$tar" | grep -c '/model.json$') model folders"
exit "$worst"
