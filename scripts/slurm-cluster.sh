#!/usr/bin/env bash
# A private single-node Slurm, started without systemd, for the tests (and for trying the
# cluster commands on one machine): munged on its own socket, then slurmctld and slurmd,
# everything (configuration, state, logs) under DIR, on ports of their own.
#
#   scripts/slurm-cluster.sh start DIR   start it; prints the line to export (SLURM_CONF=...)
#   scripts/slurm-cluster.sh stop DIR    stop it
#
# Needs root (SlurmUser=root) and Debian's slurm-wlm and munge (scripts/setup.sh installs
# them). Clients (sbatch, squeue, scancel, stylevid slurm) find it through $SLURM_CONF.
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
dir=$(realpath -m "$dir")
conf="$dir/slurm.conf"

stop() {
  for p in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$dir/munge/pid"; do
    [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  for _ in $(seq 50); do
    alive=0
    for p in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$dir/munge/pid"; do
      [ -s "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  # slurmd leaves its job steps' processes behind when killed: end them too
  pkill -f "slurmstepd.*$dir" 2>/dev/null || true
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

stop
# the daemons outlive this script: they must not inherit its caller's descriptors (a
# caller waiting for a pipe to close, as Foundation's Process does, would wait forever)
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
done
mkdir -p "$dir/munge" "$dir/spool/ctld" "$dir/spool/d" "$dir/log" "$dir/run"
chmod 700 "$dir/munge"
[ -s "$dir/munge/munge.key" ] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null; chmod 400 "$dir/munge/munge.key"; }
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" --pid-file="$dir/munge/pid" \
  --log-file="$dir/munge/log" --seed-file="$dir/munge/seed" </dev/null >>"$dir/log/daemons.log" 2>&1

# ports of its own, so it neither meets a system Slurm nor another test run's
base=$(( 20000 + (RANDOM % 2000) * 2 ))
node=$(slurmd -C | head -1 | sed 's/ *UpTime=.*//')
host=$(hostname -s)
cat > "$conf" <<EOF
ClusterName=stylevid-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$(( base + 1 ))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
$node State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"
# the daemons must not keep the caller's stdout and stderr open (a caller reading them to
# the end would wait for as long as the daemons live): their words go to logs
slurmctld -f "$conf" </dev/null >>"$dir/log/daemons.log" 2>&1
slurmd -f "$conf" </dev/null >>"$dir/log/daemons.log" 2>&1
# ready when the node is idle (within a minute, on a busy machine too)
for _ in $(seq 300); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) echo "export SLURM_CONF=$conf"; exit 0 ;; esac
  sleep 0.2
done
echo "slurm-cluster: the node did not come up in 60 s (state '${state:-none}'); logs in $dir/log, ending:" >&2
tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/log/daemons.log" >&2 2>/dev/null || true
stop
exit 1
