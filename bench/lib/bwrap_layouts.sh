#!/usr/bin/env bash
# bench/lib/bwrap_layouts.sh IMAGE.tar [RUNS]: what a node's sandbox costs
# to set up, with the two layouts of zerocloud_dev's runner (bwrap 0.8's
# arguments as runner.py builds them; the same common arguments):
#   zapp  the image's overlay bound at /zapp (cwd) on bwrap's own tmpfs
#         root, the host's system directories read-only on that root,
#         / remounted read-only (the runner up to 20193e9)
#   root  the overlay bound at / and at /zapp, the host's system
#         directories read-only over it, cwd / (from d56ef58 on)
# $runs (default 100) runs per command, in $ZPM_BWRAP_ROUNDS rounds
# (default 5). Each run gets a fresh area (hyperfine --prepare, not timed): a tmpfs
# holding the overlay's upper layer over the unpacked image, as limits.py
# mounts it. Timed: `bwrap ... /bin/true` (the sandbox alone) and
# `bwrap ... python3 -c 'print("hello")'` (the benchmark's node program)
# in each layout, and the area itself, the same in both layouts (mount
# the tmpfs and the overlay, unmount both, by syscalls from one Python
# process as limits.py does; $runs times, the mean). Runs in a private
# mount namespace of its own (root only).
set -euo pipefail
if [ "${ZPM_BWRAP_LAYOUTS_NS:-}" != 1 ]; then
  exec env ZPM_BWRAP_LAYOUTS_NS=1 unshare -m --propagation private \
    bash "$0" "$@"
fi
image_tar=$1
runs=${2:-100}
bwrap=/usr/bin/bwrap
w=$(mktemp -d /tmp/zpm-bwrap-layouts-XXXXXX)
unmount() { umount "$w/area/zapp" 2>/dev/null || true
  umount "$w/area/fs" 2>/dev/null || true; }
trap 'unmount; rm -rf "$w"' EXIT
mkdir -p "$w/image" "$w/area"
tar -xf "$image_tar" -C "$w/image"

# the area: tmpfs (256 MiB + a page, the default disk_limit) with upper,
# work, tmp and shm; the overlay at area/zapp
area_up() {
  unmount
  rm -rf "$w/area" && mkdir -p "$w/area/fs" "$w/area/zapp"
  mount -t tmpfs -o size=268439552,nr_inodes=65536,mode=0755,nosuid,nodev \
    tmpfs "$w/area/fs"
  mkdir "$w/area/fs/upper" "$w/area/fs/work" "$w/area/fs/tmp" "$w/area/fs/shm"
  chmod 1777 "$w/area/fs/tmp" "$w/area/fs/shm"
  mount -t overlay -o "lowerdir=$w/image,upperdir=$w/area/fs/upper,workdir=$w/area/fs/work,nosuid,nodev" \
    overlay "$w/area/zapp"
}
declare -f unmount area_up > "$w/area_up.sh"
echo "w=$w" >> "$w/area_up.sh"
echo area_up >> "$w/area_up.sh"
prepare="bash $w/area_up.sh"

common="$bwrap --unshare-all --unshare-user --uid 65534 --gid 65534"
common+=" --die-with-parent --new-session --clearenv"
# the system directories: on bwrap's tmpfs (zapp), or over the image
# (root: runner.py's _root_layout: a usrmerge link where the image has a
# directory of that name binds the link's target there)
sys="" rsys="" hide=""
for d in /usr /bin /sbin /lib /lib32 /lib64 /libx32 /etc; do
  if [ -L "$d" ]; then
    sys+=" --symlink $(readlink "$d") $d"
    if [ -d "$w/image$d" ] && [ ! -L "$w/image$d" ]; then
      rsys+=" --ro-bind $(readlink -f "$d") $d"
    elif [ "$(readlink "$w/image$d" 2>/dev/null)" != "$(readlink "$d")" ]; then
      rsys+=" --symlink $(readlink "$d") $d"
    fi
  elif [ -d "$d" ]; then
    sys+=" --ro-bind $d $d"
    rsys+=" --ro-bind $d $d"
  fi
done
for d in /etc/swift /etc/keystone /etc/ssh /etc/ssl/private /etc/sudoers.d \
    /etc/credstore /etc/credstore.encrypted; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then hide+=" --tmpfs $d --remount-ro $d"; fi
done
for f in /etc/shadow /etc/gshadow /etc/shadow- /etc/gshadow- /etc/sudoers; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then hide+=" --ro-bind /dev/null $f"; fi
done
a=$w/area/fs
zapp="$common$sys$hide --bind $a/tmp /tmp --dev /dev --proc /proc"
zapp+=" --bind $w/area/zapp /zapp --chdir /zapp --bind $a/shm /dev/shm"
zapp+=" --remount-ro /dev --remount-ro / --setenv PATH /usr/bin:/bin --"
root="$common --bind $w/area/zapp / --bind $w/area/zapp /zapp$rsys$hide"
root+=" --bind $a/tmp /tmp --dev /dev --proc /proc --bind $a/shm /dev/shm"
root+=" --remount-ro /dev --chdir / --setenv PATH /usr/bin:/bin"
root+=" --setenv HOME / --"
py="/usr/bin/python3 -c 'print(\"hello\")'"
for layout in zapp root; do
  cmd=${!layout}
  out=$(eval "$prepare" && $cmd /bin/sh -c 'pwd; ls /' | tr '\n' ' ')
  echo "  layout $layout: cwd and / seen by the node: $out"
done
echo "  zapp: ${zapp/$common/<common>} <program>"
echo "  root: ${root/$common/<common>} <program>"
echo "  <common>: $common"
# in rounds, the order of the commands reversed every other round, so
# that a change of the machine's load meets every command alike
rounds=${ZPM_BWRAP_ROUNDS:-5}
per=$(((runs + rounds - 1) / rounds))
cmds=("zapp: bwrap true" "$zapp /bin/true" "root: bwrap true" "$root /bin/true"
      "zapp: bwrap python3" "$zapp $py" "root: bwrap python3" "$root $py"
      "host: python3" "$py")
for ((r = 1; r <= rounds; r++)); do
  args=()
  for ((k = 0; k < ${#cmds[@]}; k += 2)); do
    if ((r % 2)); then
      args+=(-n "${cmds[k]}" "${cmds[k + 1]}")
    else
      args=(-n "${cmds[k]}" "${cmds[k + 1]}" "${args[@]}")
    fi
  done
  hyperfine -N --style none --warmup 3 --runs "$per" --prepare "$prepare" \
    --export-json "$w/r$r.json" "${args[@]}" >/dev/null
done
/usr/bin/python3 - "$w" "$w/image" "$w/cycle" "$runs" "$rounds" <<'PY'
import ctypes, json, os, shutil, statistics, sys, time
rows, by = [], {}
for r in range(1, int(sys.argv[5]) + 1):
    for x in json.load(open(os.path.join(sys.argv[1], "r%d.json" % r)))[
            "results"]:
        if x["command"] not in by:
            by[x["command"]] = {"command": x["command"], "times": [],
                                "user": [], "system": []}
            rows.append(by[x["command"]])
        e = by[x["command"]]
        e["times"] += x["times"]
        e["user"].append(x["user"])
        e["system"].append(x["system"])
for e in rows:
    e["median"] = statistics.median(e["times"])
    e["min"], e["max"] = min(e["times"]), max(e["times"])
    e["user"] = statistics.mean(e["user"])
    e["system"] = statistics.mean(e["system"])
rows.sort(key=lambda e: ["zapp: bwrap true", "root: bwrap true",
                         "zapp: bwrap python3", "root: bwrap python3",
                         "host: python3"].index(e["command"]))
libc = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV = 2, 4


def mount(src, dst, fstype, data):
    if libc.mount(src.encode(), dst.encode(), fstype.encode(),
                  MS_NOSUID | MS_NODEV, data.encode()) != 0:
        raise OSError(ctypes.get_errno(), "mount %s" % dst)


def cycle(image, base):
    fs, zapp = os.path.join(base, "fs"), os.path.join(base, "zapp")
    os.makedirs(fs)
    os.mkdir(zapp)
    mount("tmpfs", fs, "tmpfs", "size=268439552,nr_inodes=65536,mode=0755")
    for d in ("upper", "work", "tmp", "shm"):
        os.mkdir(os.path.join(fs, d))
    mount("overlay", zapp, "overlay", "lowerdir=%s,upperdir=%s,workdir=%s"
          % (image, os.path.join(fs, "upper"), os.path.join(fs, "work")))
    libc.umount2(zapp.encode(), 0)
    libc.umount2(fs.encode(), 0)
    shutil.rmtree(base)


n = int(sys.argv[4])
cycle(sys.argv[2], sys.argv[3])
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(n):
    cycle(sys.argv[2], sys.argv[3])
t1, c1 = time.perf_counter(), time.process_time()
rows.append({"command": "area: mount + umount (in-process, mean)",
             "median": (t1 - t0) / n, "min": float("nan"),
             "max": float("nan"), "user": (c1 - c0) / n, "system": 0.0})
print("| what | median | min | max | user + sys (bwrap: its own only) |")
print("| --- | --- | --- | --- | --- |")



def ms(x):
    return "-" if x != x else "%.2f ms" % (x * 1e3)


for r in rows:
    print("| %s | %s | %s | %s | %s |" % (
        r["command"], ms(r["median"]), ms(r["min"]), ms(r["max"]),
        ms(r["user"] + r["system"])))
m = {r["command"]: r for r in rows}
for what in ("true", "python3"):
    z, t = m["zapp: bwrap " + what], m["root: bwrap " + what]
    print("root - zapp, bwrap %s: %+.2f ms wall (median), %+.2f ms CPU"
          % (what, (t["median"] - z["median"]) * 1e3,
             (t["user"] + t["system"] - z["user"] - z["system"]) * 1e3))
PY
