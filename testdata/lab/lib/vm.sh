# Settings of the VM tier (up --vm N): guests with their own kernel (User-Mode
# Linux), for what the nspawn hosts cannot do on this machine kind (NFS, IPVS,
# the swarm ingress mesh). Sourced after common.sh. Names never clash with the
# nspawn lab's (aglab*, 10.213.0.0/24): both tiers can be up at once.

VM_DIR=$LAB_DIR/vm
VM_CACHE=$CACHE/vm
VM_OUT=${AGLAB_VM_OUT:-$LAB_DIR/out-vm}
VM_BRIDGE=agvm0
VM_BRIDGE_IP=10.214.0.1
VM_NET_PREFIX=10.214.0
VM_IP_BASE=10              # vmK gets 10.214.0.(10+K)
VM_MEM=${AGLAB_VM_MEM:-1536M}
VM_LOCK=/run/agvmlab.lock

vm_ip() { echo "$VM_NET_PREFIX.$((VM_IP_BASE + $1))"; }
vm_mac() { printf '02:a9:1b:00:00:%02x' "$1"; }
vm_tap() { echo "agvm-t$1"; }
