#!/usr/bin/env bash
# Takes a screenshot of the live view (shop-server --web) with a few customers:
#   scripts/screenshot.sh [OUTPUT.png]      (default: docs/live-view.png)
# Needs bash, cargo and Chromium (Debian: apt-get install -y chromium; or set CHROMIUM).
# Everything runs on 127.0.0.1 with free ports; the server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/live-view.png}"
chromium="${CHROMIUM:-chromium}"
command -v "$chromium" >/dev/null || { echo "screenshot.sh: $chromium not found (apt-get install -y chromium)" >&2; exit 1; }

if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh)" ]; then
    echo "screenshot.sh: warning: no Chinese font installed, the text will be boxes" \
         "(Debian: apt-get install -y fonts-wqy-microhei)" >&2
fi

cargo build --quiet --bin shop-server
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A full shop turns the seventh customer away; auto answers GBK and UTF-8 alike.
target/debug/shop-server --port 0 --web 127.0.0.1:0 --encoding auto --max-clients 6 \
    >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do
    [ "$(wc -l <"$work/stdout")" -ge 2 ] && break
    sleep 0.1
done
port="$(sed -n 1p "$work/stdout" | sed 's/.*://')"
url="$(sed -n 2p "$work/stdout" | sed 's/^live view on //')"
[ -n "$port" ] && [ -n "$url" ] || { echo "screenshot.sh: the server did not start:" >&2; cat "$work/stderr" >&2; exit 1; }

# Customers on bash's /dev/tcp, each on its own file descriptor, kept open.
exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port" \
     6<>"/dev/tcp/127.0.0.1/$port" 7<>"/dev/tcp/127.0.0.1/$port" 8<>"/dev/tcp/127.0.0.1/$port"
sleep 0.3
printf '\xce\xf7\xb9\xcf\n' >&3                        # 西瓜 in GBK, like the debug assistant
sleep 0.3
printf '\xb9\xcf\xd7\xd3\n\xbf\xf3\xc8\xaa\xcb\xae\n' >&3  # 瓜子 and 矿泉水 in one segment: 粘包
printf '西瓜\n' >&4                                    # UTF-8, like nc in a terminal
sleep 0.3
printf '\xce\xf7' >&5; sleep 0.05; printf '\xb9\xcf' >&5   # 西瓜 in two halves, no newline: 半包, then the pause
sleep 0.4
printf '\xff\xfe\x80\n' >&6                            # bytes that are neither GBK nor UTF-8
printf '<img src=x onerror=alert(1)>\n' >&7            # a student testing the page
printf '瓜子\n菜单\n' >&8
sleep 0.2
exec 9<>"/dev/tcp/127.0.0.1/$port"                     # the seventh: the shop is full
sleep 1

mkdir -p "$(dirname "$out")"
"$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --hide-scrollbars --window-size=1600,1700 \
    --virtual-time-budget=3000 --screenshot="$out" "$url" 2>"$work/chromium.log" \
    || { cat "$work/chromium.log" >&2; exit 1; }
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
echo "screenshot: $out"
