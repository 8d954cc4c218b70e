#!/usr/bin/env bash
# `make dev`: three demo origins on 127.0.0.1:9001-9003 and the gateway on
# http://127.0.0.1:8787 under `wrangler dev` (which runs wrangler.toml's build, rebuilds when
# src/ changes, and keeps local KV in .wrangler/state). Ctrl-C stops everything started here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" WRANGLER_SEND_METRICS=false

scripts/dev-vars.sh

pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

for i in 1 2 3; do
  id=$(printf '%s' abc | cut -c"$i")
  node scripts/demo-origin.mjs "$id" "900$i" &
  pids+=("$!")
done
sleep 0.5
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "dev: a demo origin failed to start (ports 9001-9003 in use?)" >&2; exit 1; }
done

cat <<'MSG'

dev: gateway on http://127.0.0.1:8787 once wrangler says Ready (the first build takes a while).
     Open it in a browser: a page from the origin that served you, showing who the gateway says
     you are and your cart, with buttons to log in, add to the cart, log out (everywhere).
     Or:   curl -si -c /tmp/jar -b /tmp/jar 'http://127.0.0.1:8787/login?user=alice'
           curl -s  -c /tmp/jar -b /tmp/jar http://127.0.0.1:8787/whoami
           curl -s  -c /tmp/jar -b /tmp/jar 'http://127.0.0.1:8787/cart/add?item=book'
                (session data, kept in a Durable Object: STORE in wrangler.toml)
           curl -s http://127.0.0.1:8787/__scheduled      (runs the health cron)
     DBSC is on: a login answers Secure-Session-Registration; the page shows whether the
     session is bound (x-session-bound).
           curl -s -H "authorization: Bearer $(sed -n 's/^OPERATOR_TOKEN=//p' .dev.vars)" \
                http://127.0.0.1:8787/__edge/health
     Ctrl-C stops the gateway and the origins.

MSG
# In the foreground, so Ctrl-C reaches it; the EXIT trap then stops the origins. Device-bound
# sessions are on here (DBSC, docs/gateway.md): the demo page shows whether a session is bound.
wrangler dev --ip 127.0.0.1 --port 8787 --test-scheduled --persist-to .wrangler/state \
  --var DBSC:on --show-interactive-dev-session=false
