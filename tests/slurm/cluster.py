"""A throw-away single-node SLURM cluster on this machine, for tests/test_slurm.py.

Uses Debian's packages (slurmctld, slurmd, slurm-client, munge), installed with apt-get
when missing. Needs root: the configuration must be /etc/slurm/slurm.conf (the SLURM
jobstep plugin strips SLURM_* variables, so SLURM_CONF does not reach the in-job srun).

    reason = ensure_installed()           # None, or why SLURM cannot be had here
    cluster = SlurmCluster(state_dir)
    cluster.start()                       # munged (unless one runs), slurmctld, slurmd
    ...                                   # sbatch/squeue/snakemake --executor slurm
    cluster.stop()                        # only the daemons it started, by pid

The daemons run in the foreground (-F/-D) as children of this process, so their pids
are known without pid files; stop() also restores (or removes) /etc/slurm/slurm.conf.
Run `python tests/slurm/cluster.py` to bring a cluster up by hand (Ctrl-C stops it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF_TEMPLATE = HERE / "slurm.conf"
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN = Path("/run/munge")
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "srun", "munged", "munge"]
PARTITION = "debug"
NODE = "localhost"


def _sbin_path() -> str:
    """PATH with the sbin folders, where Debian puts munged, slurmctld and slurmd."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    for extra in ("/usr/sbin", "/sbin", "/usr/bin"):
        if extra not in parts:
            parts.append(extra)
    return os.pathsep.join(parts)


def which(name: str) -> str | None:
    return shutil.which(name, path=_sbin_path())


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if which(b) is None]


def ensure_installed(timeout: float = 600) -> str | None:
    """Install the SLURM packages if any binary is missing.

    Returns None when SLURM is usable, else a one-line reason (for pytest.skip).
    """
    if not missing_binaries():
        return None
    if os.geteuid() != 0:
        return f"SLURM missing ({', '.join(missing_binaries())}) and not root to apt-get it"
    apt = shutil.which("apt-get")
    if apt is None:
        return "SLURM missing and no apt-get on this machine"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = [
        [apt, "update", "-qq"],
        [apt, "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ]
    for cmd in steps:
        try:
            proc = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` timed out after {timeout:.0f} s"
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(cmd)}` failed ({proc.returncode}): {' | '.join(tail)}"
    still = missing_binaries()
    if still:
        return f"apt-get install {' '.join(PACKAGES)} left {', '.join(still)} missing"
    return None


def running_daemons(*names: str) -> list[int]:
    """Pids of processes whose command name is one of `names` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            pids.append(int(entry.name))
    return pids


def node_hardware() -> tuple[int, int]:
    """(CPUs, RealMemory in MB) of this machine as slurmd sees it."""
    cpus, mem = os.cpu_count() or 1, 0
    try:
        out = subprocess.run(
            [which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, timeout=30
        ).stdout
        if m := re.search(r"\bCPUs=(\d+)", out):
            cpus = int(m.group(1))
        if m := re.search(r"\bRealMemory=(\d+)", out):
            mem = int(m.group(1))
    except (OSError, subprocess.SubprocessError):
        pass
    if mem <= 0:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return cpus, mem


def render_conf(state_dir: Path, cpus: int, real_memory: int) -> str:
    values = {
        "CTLD_HOST": socket.gethostname().split(".")[0],
        "CTLD_PORT": "6817",
        "SLURMD_PORT": "6818",
        "STATE_DIR": str(state_dir),
        "CPUS": str(cpus),
        "REAL_MEMORY": str(real_memory),
    }
    text = CONF_TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    settings = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    if leftover := re.findall(r"@[A-Z_]+@", settings):
        raise ValueError(f"unfilled placeholders in {CONF_TEMPLATE}: {leftover}")
    return text


class ClusterError(RuntimeError):
    pass


class SlurmCluster:
    """munged + slurmctld + slurmd for one node `localhost` in partition `debug`."""

    def __init__(self, state_dir: Path, memory_headroom: float = 0.1):
        self.state_dir = Path(state_dir).resolve()
        self.memory_headroom = memory_headroom
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        self._saved_conf: tuple[bytes, int] | None = None
        self._conf_written = False
        self.cpus = 0
        self.real_memory = 0

    # -- start ---------------------------------------------------------------------

    def start(self, timeout: float = 90) -> SlurmCluster:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        if pids := running_daemons("slurmctld", "slurmd"):
            raise ClusterError(f"SLURM daemons already running here (pids {pids})")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("ctld", "slurmd"):
            (self.state_dir / sub).mkdir(exist_ok=True)
        cpus, mem = node_hardware()
        self.cpus = cpus
        self.real_memory = max(512, int(mem * (1 - self.memory_headroom)))
        self._write_conf(render_conf(self.state_dir, self.cpus, self.real_memory))
        self._start_munge()
        self._spawn("slurmctld", [which("slurmctld"), "-D"])
        self._wait(lambda: self._ok(["scontrol", "ping"], "UP"), timeout, "slurmctld up")
        self._spawn("slurmd", [which("slurmd"), "-D", "-N", NODE])
        self._wait(self._node_idle, timeout, f"node {NODE} idle in sinfo")
        # Smoke test: a one-task job step runs and reports back to srun.
        smoke = self._run(["srun", "--job-name=smoke", "-n1", "-t1", "true"], timeout=60)
        if smoke.returncode != 0:
            raise ClusterError(f"`srun true` failed: {smoke.stderr.strip()}\n{self.log_tail()}")

    def _write_conf(self, text: str) -> None:
        if SLURM_CONF.exists() or SLURM_CONF.is_symlink():
            self._saved_conf = (SLURM_CONF.read_bytes(), SLURM_CONF.stat().st_mode)
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        self._conf_written = True
        SLURM_CONF.write_text(text)
        SLURM_CONF.chmod(0o644)

    def _start_munge(self) -> None:
        if self._ok(["sh", "-c", "munge -n | unmunge"]):
            return  # a working munged is already there: use it, leave it alone
        if not MUNGE_KEY.exists():
            keygen = which("mungekey")
            if keygen:
                cmd = [keygen, "--create", "--keyfile", str(MUNGE_KEY)]
            else:
                cmd = [which("create-munge-key") or "create-munge-key", "-f"]
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        shutil.chown(MUNGE_KEY, "munge", "munge")
        MUNGE_KEY.chmod(0o400)
        MUNGE_RUN.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_RUN, "munge", "munge")
        MUNGE_RUN.chmod(0o755)
        # Dropping privileges in Popen keeps the pid that of munged itself.
        self._spawn("munged", [which("munged"), "-F"], user="munge", group="munge", extra_groups=[])
        self._wait(lambda: self._ok(["sh", "-c", "munge -n | unmunge"]), 30, "munged answering")

    def _spawn(self, name: str, cmd: list[str | None], **popen_kwargs) -> None:
        if None in cmd:
            raise ClusterError(f"cannot start {name}: binary not found ({cmd})")
        log = open(self.state_dir / f"{name}.out", "ab")  # closed in stop()
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen_kwargs
        )

    def _run(self, cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
        """A SLURM client command in the cluster's environment, output captured."""
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env())

    def _ok(self, cmd: list[str], needle: str | None = None) -> bool:
        try:
            proc = self._run(cmd)
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.returncode == 0 and (needle is None or needle in proc.stdout)

    def _node_idle(self) -> bool:
        return self._ok(["sinfo", "-h", "-N", "-o", "%N %t"], f"{NODE} idle")

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise ClusterError(
                        f"{name} exited with {proc.returncode} while waiting for {what}; "
                        f"see {self.state_dir}:\n{self.log_tail()}"
                    )
            if predicate():
                return
            time.sleep(0.5)
        raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}")

    # -- use -------------------------------------------------------------------------

    @staticmethod
    def env() -> dict[str, str]:
        """Environment for SLURM clients: sbin on PATH, no stray SLURM_CONF."""
        env = dict(os.environ, PATH=_sbin_path())
        env.pop("SLURM_CONF", None)
        return env

    def ctld_log(self) -> str:
        path = self.state_dir / "slurmctld.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def completed_jobs(self) -> dict[str, int]:
        """SLURM job id -> exit status of each job that slurmctld saw complete."""
        done = {}
        for m in re.finditer(r"_job_complete: JobId=(\d+) WEXITSTATUS (\d+)", self.ctld_log()):
            done[m.group(1)] = int(m.group(2))
        return done

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munged.out", "slurmctld.out"):
            path = self.state_dir / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- stop ------------------------------------------------------------------------

    def stop(self, timeout: float = 20) -> None:
        """Cancel leftover jobs, stop the daemons this object started, restore the conf."""
        ctld = self.procs.get("slurmctld")
        if ctld is not None and ctld.poll() is None:
            # Every job on this private cluster is ours: cancel what is left.
            jobs = subprocess.run(
                ["squeue", "-h", "-o", "%i"],
                capture_output=True,
                text=True,
                timeout=20,
                env=self.env(),
            ).stdout.split()
            if jobs:
                subprocess.run(["scancel", *jobs], timeout=20, env=self.env(), check=False)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout)
        # Job steps (slurmstepd) outlive slurmd by a moment; give them time to exit.
        deadline = time.monotonic() + 10
        while running_daemons("slurmstepd") and time.monotonic() < deadline:
            time.sleep(0.2)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._conf_written:
            if self._saved_conf is not None:
                data, mode = self._saved_conf
                SLURM_CONF.write_bytes(data)
                SLURM_CONF.chmod(mode & 0o7777)
            else:
                SLURM_CONF.unlink(missing_ok=True)
            self._conf_written = False

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    import tempfile

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    # Also when started in the background (SIGINT ignored) or stopped with kill.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    reason = ensure_installed()
    if reason:
        raise SystemExit(reason)
    with SlurmCluster(Path(tempfile.mkdtemp(prefix="slurm-"))) as c:
        print(f"cluster up: {c.cpus} CPUs, {c.real_memory} MB, state in {c.state_dir}")
        print(f"stop with Ctrl-C or: kill {os.getpid()}", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    print("cluster stopped")
