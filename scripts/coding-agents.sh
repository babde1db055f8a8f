#!/usr/bin/env bash
# Runs the real Claude Code and Codex CLIs offline against the sandbox (issue 21): a network
# namespace with loopback only, Switchyard's sandbox clouds inside it, a recorder in front
# (scripts/record-proxy.mjs) whose captures become test fixtures. Needs root (ip netns).
#
#   scripts/coding-agents.sh [out-dir]        (default: ./agent-captures)
#
# The CLIs are installed on demand into $AGENTS_CLI_DIR (default /tmp/switchyard-agents-cli)
# at the versions the issue names. Each run prints PASS/FAIL per client and model; the result
# of the last run is recorded in docs/api.md ("Coding agents").
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/agent-captures}" && cd "${1:-$ROOT/agent-captures}" && pwd)"
CLI_DIR="${AGENTS_CLI_DIR:-/tmp/switchyard-agents-cli}"
CLAUDE_VERSION="${CLAUDE_VERSION:-2.1.332}"
CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
NS="switchyard-agents-$$"
GATEWAY_PORT=18080
PROXY_PORT=18081
KEY="sk-switchyard-local"

if [ ! -x "$CLI_DIR/node_modules/.bin/claude" ] || [ ! -x "$CLI_DIR/node_modules/.bin/codex" ]; then
  mkdir -p "$CLI_DIR" && (cd "$CLI_DIR" && [ -f package.json ] || npm init -y >/dev/null)
  (cd "$CLI_DIR" && npm install --no-audit --no-fund \
    "@anthropic-ai/claude-code@$CLAUDE_VERSION" "@openai/codex@$CODEX_VERSION") || {
    echo "FAIL: could not install the CLIs"; exit 1; }
fi
CLAUDE="$CLI_DIR/node_modules/.bin/claude"
CODEX="$CLI_DIR/node_modules/.bin/codex"

ip netns add "$NS" || { echo "FAIL: ip netns add (needs root)"; exit 1; }
cleanup() {
  [ -n "${GATEWAY_PID:-}" ] && kill "$GATEWAY_PID" 2>/dev/null
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null
}
trap cleanup EXIT
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

DATA="$(mktemp -d)"
(cd "$DATA" && exec ip netns exec "$NS" node "$ROOT/bin/switchyard.js" serve --sandbox \
  --port "$GATEWAY_PORT" >"$OUT/gateway.log" 2>&1) &
GATEWAY_PID=$!
ip netns exec "$NS" node "$ROOT/scripts/record-proxy.mjs" "$PROXY_PORT" "$GATEWAY_PORT" "$OUT/requests.jsonl" &
PROXY_PID=$!
for _ in $(seq 1 100); do
  in_ns curl -sf "http://127.0.0.1:$GATEWAY_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

WORK="$(mktemp -d)"
echo "hello" >"$WORK/README.md"
status=0
run() { # name, command... (run inside the namespace)
  local name="$1"; shift
  if (cd "$WORK" && timeout 180 ip netns exec "$NS" "$@" >"$OUT/$name.out" 2>&1 </dev/null); then
    echo "PASS $name"
  else echo "FAIL $name (exit $?; see $OUT/$name.out)"; status=1; fi
}

for model in claude-sonnet gpt-4o-mini gpt-oss-120b; do
  run "claude-code-$model" env HOME="$WORK" ANTHROPIC_BASE_URL="http://127.0.0.1:$PROXY_PORT" \
    ANTHROPIC_API_KEY="$KEY" DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    "$CLAUDE" -p "say hello from claude code" --model "$model" --max-turns 2
done

mkdir -p "$WORK/.codex"
cat >"$WORK/.codex/config.toml" <<TOML
model_provider = "switchyard"
[model_providers.switchyard]
name = "Switchyard"
base_url = "http://127.0.0.1:$PROXY_PORT/v1"
env_key = "SWITCHYARD_API_KEY"
wire_api = "responses"
TOML
for model in gpt-4o-mini claude-sonnet gpt-oss-120b; do
  run "codex-$model" env HOME="$WORK" CODEX_HOME="$WORK/.codex" SWITCHYARD_API_KEY="$KEY" \
    "$CODEX" exec --skip-git-repo-check -m "$model" "say hello from codex"
done

echo "captures: $OUT/requests.jsonl ($(wc -l <"$OUT/requests.jsonl" 2>/dev/null || echo 0) requests)"
exit $status
