# Shared by bench/run and bench/callgrind (sourced): how each server is
# started and stopped.  The caller sets:
#   peers   this directory          build   meson build dir with linkdnsd
#   tmp     its temporary directory client  the querying address (127.0.10.3)
#   dir     a fresh directory for this server's files
#   port    the port to serve on    addr    the address (see server_addr)
#   name    the server's name       wrap    an array put before the server's
#                                           command (e.g. valgrind ...), or ()
# start_NAME sets srv_pid (the process whose tree is measured); stop_server
# stops it.  Everything runs in the foreground except aardvark-dns, which
# always forks (its pid comes from its pid file).

# server_addr NAME: the address NAME serves on.
server_addr() {
  case $1 in
    aardvark|ldaard) echo 127.0.10.1 ;;   # the network's gateway address
    *) echo 127.0.0.1 ;;
  esac
}

# free_port: a port free for both UDP and TCP on 127.0.0.1 and 127.0.10.1.
free_port() {
  /usr/bin/python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randint(20000, 60000)
    socks = []
    try:
        for addr in ("127.0.0.1", "127.0.10.1"):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind((addr, p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p)
    break
EOF
}

# fill TEMPLATE DEST: copy a bench/peers file, filling in @DIR@ and @PORT@.
fill() { sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$peers/$1" >"$2"; }

# start_SERVER: starts it in $dir on $addr@$port, sets srv_pid.
start_knot() {
  fill knot.conf "$dir/knot.conf"
  cp "$peers/link.internal.zone" "$dir/"
  "${wrap[@]}" knotd -c "$dir/knot.conf" 2>"$dir/log" &
  srv_pid=$!
}
start_nsd() {
  fill nsd.conf "$dir/nsd.conf"
  cp "$peers/link.internal.zone" "$dir/"
  nsd-checkconf "$dir/nsd.conf" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; die "nsd.conf rejected"; }
  "${wrap[@]}" nsd -d -c "$dir/nsd.conf" 2>"$dir/log" &
  srv_pid=$!
}
start_unbound() {
  fill unbound.conf "$dir/unbound.conf"
  unbound-checkconf "$dir/unbound.conf" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; die "unbound.conf rejected"; }
  "${wrap[@]}" unbound -d -c "$dir/unbound.conf" 2>"$dir/log" &
  srv_pid=$!
}
start_dnsmasq() {
  local args=()
  mapfile -t args < <(grep -v '^#' "$peers/dnsmasq.args" | sed "s|@PORT@|$port|g")
  # dnsmasq_extra: more arguments from the caller (bench/callgrind: --user=root,
  # so that valgrind can still write its profile when dnsmasq exits)
  "${wrap[@]}" dnsmasq "${args[@]}" ${dnsmasq_extra[@]+"${dnsmasq_extra[@]}"} 2>"$dir/log" &
  srv_pid=$!
}
start_aardvark() {
  # aardvark-dns 1.4 always forks: the parent returns once the child serves
  # and the child writes its pid to CONFIG/aardvark.pid.  It listens on the
  # network's gateway address (first line of the network file).
  # AARDVARK_NO_PROXY: never forward (unknown names get NXDOMAIN), so nothing
  # leaves loopback; -f .link.internal: names under link.internal are looked
  # up without the domain (its dnsname-compatibility option).
  mkdir "$dir/config"
  cp "$peers/aardvark.network" "$dir/config/bench"
  AARDVARK_NO_PROXY=1 /usr/lib/podman/aardvark-dns --config "$dir/config" \
    -f .link.internal -p "$port" run >"$dir/log" 2>&1 </dev/null || {
    cat "$dir/log" >&2; die "aardvark-dns failed to start"; }
  srv_pid=$(cat "$dir/config/aardvark.pid")
}
start_ldaard() {
  # linkdns in aardvark mode: the system linkdnsd (no listener of its own, an empty table)
  # and linkdns's aardvark-dns on the same network file as aardvark-dns above, which makes
  # it a network listener on the gateway address.  The row measures linkdnsd (it answers);
  # the aardvark-dns process only waits for SIGHUP, and is stopped with it (aux_pid).
  mkdir "$dir/config"
  cp "$peers/aardvark.network" "$dir/config/bench"
  : >"$dir/links"
  "${wrap[@]}" "$build/linkdnsd" --state "$dir/links" --no-upstream \
    --control "$dir/control.sock" 2>"$dir/log" &
  srv_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do [ -S "$dir/control.sock" ] && break; sleep 0.05; done
  "$build/aardvark-dns" --config "$dir/config" -f .link.internal -p "$port" \
    --control "$dir/control.sock" run >>"$dir/log" 2>&1 </dev/null || {
    cat "$dir/log" >&2; die "linkdns's aardvark-dns failed to start"; }
  aux_pid=$(cat "$dir/config/aardvark.pid")
}
start_linkdnsd() {
  cp "${LINKDNS_LINKS:-$peers/links}" "$dir/links" # LINKDNS_LINKS: another table (bench/scale)
  # LINKDNS_UPSTREAM: forward there (bench/callgrind's cached row) instead of --no-upstream
  local up=(--no-upstream)
  [ -z "${LINKDNS_UPSTREAM:-}" ] || up=(--upstream "$LINKDNS_UPSTREAM")
  "${wrap[@]}" "$build/linkdnsd" --state "$dir/links" --listen "127.0.0.1@$port" "${up[@]}" \
    --control "$dir/control.sock" 2>"$dir/log" &
  srv_pid=$!
}

# linkdnsd-local and linkdnsd-cached (bench/run, bench/callgrind): the same
# linkdnsd asked one link name, or one forwarded name answered from its cache.
# The cached one forwards to NSD serving bench/peers/ext.test.zone on a port of
# its own (start_upstream, once; the caller sets up_pid= and stops it).
start_upstream() {
  local d=$tmp/upstream
  [ -z "${up_pid:-}" ] || return 0
  mkdir -p "$d"
  up_port=$(free_port)
  sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$up_port|g" -e 's|link\.internal|ext.test|g' \
    "$peers/nsd.conf" >"$d/nsd.conf"
  cp "$peers/ext.test.zone" "$d/"
  nsd -d -c "$d/nsd.conf" 2>"$d/log" &
  up_pid=$!
  local deadline=$((SECONDS + 30))
  until dig +tries=1 +time=1 -p "$up_port" @127.0.0.1 www.ext.test A 2>/dev/null | grep -q 192.0.2.80; do
    [ "$SECONDS" -lt "$deadline" ] || { cat "$d/log" >&2; die "nsd (upstream) did not answer"; }
    sleep 0.1
  done
}
stop_upstream() {
  [ -n "$up_pid" ] || return 0
  kill -TERM "$up_pid" 2>/dev/null || true
  wait "$up_pid" 2>/dev/null || true
  up_pid=
}
start_linkdnsd-local() { start_linkdnsd; }
start_linkdnsd-cached() { LINKDNS_UPSTREAM=127.0.0.1@$up_port start_linkdnsd; }

# stop_server: SIGTERM to the server, wait up to STOP_TIMEOUT seconds
# (default 10), then SIGKILL.
stop_server() {
  if [ -n "${aux_pid:-}" ]; then # a helper of the server (ldaard's aardvark-dns): first
    kill -TERM "$aux_pid" 2>/dev/null || true
    aux_pid=
  fi
  [ -n "$srv_pid" ] || return 0
  local p=$srv_pid i
  srv_pid=
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < ${STOP_TIMEOUT:-10} * 10; i++)); do
    kill -0 "$p" 2>/dev/null || break
    # our own child: reap it; aardvark-dns (re-parented) just disappears
    [ -e "/proc/$p/stat" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
    warn "pid $p ignored SIGTERM, killing it"
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
}

# tree PID: PID and its descendants (NSD runs a main, xfrd and server process).
tree() {
  local p=$1 c
  echo "$p"
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree "$c"; done
}

# wait_ready: until the server answers anything (REFUSED included), 10 s.
wait_ready() {
  local deadline=$((SECONDS + 10))
  until dig +tries=1 +time=1 -p "$port" @"$addr" -b "$client" link.internal SOA >/dev/null 2>&1; do
    if ! kill -0 "$srv_pid" 2>/dev/null; then
      cat "$dir/log" >&2
      die "$name exited before answering"
    fi
    [ "$SECONDS" -lt "$deadline" ] || { cat "$dir/log" >&2; die "$name did not answer within 10 s"; }
    sleep 0.05
  done
}

