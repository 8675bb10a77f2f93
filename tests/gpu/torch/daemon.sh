# tests/gpu/torch/daemon.sh - sourced by tests/gpu/torch/run.sh and
# bench/torch.sh: starts vgpud (cuda backend, this machine's real driver)
# with one VM (1 GiB region, 8 channels, 512 MiB pinned pool) and defines
# guest CMD... to run CMD as that VM's guest (vgpu's libcuda.so.1 and
# libnvidia-ml.so.1 first in LD_LIBRARY_PATH). Needs B (build dir) and
# LOG (the daemon's log file); sets real, daemon, region; an EXIT trap
# stops the daemon and removes the region.
real=$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "no libcuda.so.1 on this machine"; exit 1; }
cfg=$(mktemp -d)
region=/dev/shm/vgpu-torch-$$
mkdir -p "$cfg/vms.d"
printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\n' \
	"$real" "$cfg" >"$cfg/vgpud.conf"
printf 'region = %s\nregion_size = 1G\nchannels = 8\npinned_pool = 512M\n' \
	"$region" >"$cfg/vms.d/gpu.conf"
"$B/vgpud" -c "$cfg" 2>"$LOG" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; rm -rf "$cfg" "$region"' EXIT
for _ in $(seq 100); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
guest() { VGPU_REGION=$region VGPU_LOG=${VGPU_LOG:-debug} \
	LD_LIBRARY_PATH=$B/guest/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"; }
