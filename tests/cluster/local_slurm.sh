#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the cluster tests (tests/cluster), run as root on Debian 12:
#   tests/cluster/local_slurm.sh start DIR   installs slurm-wlm and munge when missing, writes DIR/slurm.conf
#                                            (this machine, its CPUs, partition "debug"), starts munged (unless one
#                                            answers already), slurmctld and slurmd, and waits for the node to be idle
#   tests/cluster/local_slurm.sh stop DIR    stops what start started (the pids it recorded in DIR)
# Clients find the cluster through SLURM_CONF=DIR/slurm.conf; /etc/slurm is left alone. No accounting database:
# sacct answers nothing and submitit reads a job's end from its result file, as it does when sacct fails.
set -euo pipefail
action=${1:?usage: local_slurm.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: local_slurm.sh start|stop DIR}")
export SLURM_CONF=$dir/slurm.conf

start() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    fi
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    local node cpus memory
    node=$(hostname -s)
    cpus=$(nproc)
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$SLURM_CONF" <<EOF
ClusterName=seqexp-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
# a requeued job may start again after this many seconds (default 120)
AuthInfo=cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobRequeue=1
ReturnToService=2
KillWait=30
MinJobAge=300
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
                                         chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
        mkdir -p /run/munge && chown munge:munge /run/munge
        runuser -u munge -- /usr/sbin/munged
        cp /run/munge/munged.pid "$dir/munged.pid"
    fi
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 60); do
        if sinfo -h -N -o %T 2>/dev/null | grep -qx idle; then
            echo "SLURM up: SLURM_CONF=$SLURM_CONF ($cpus CPUs on $node)"
            return
        fi
        sleep 1
    done
    echo "SLURM did not come up; logs in $dir/log" >&2
    tail -n 20 "$dir"/log/*.log >&2
    exit 1
}

stop() {
    local name pid
    for name in slurmd slurmctld munged; do
        [ -s "$dir/$name.pid" ] || continue
        pid=$(cat "$dir/$name.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        rm -f "$dir/$name.pid"
    done
}

case $action in
    start) start ;;
    stop) stop ;;
    *) echo "usage: local_slurm.sh start|stop DIR" >&2; exit 2 ;;
esac
