#!/usr/bin/env bash
# Captures LangChain JS requests for the issue-21 fixtures: @langchain/openai (ChatOpenAI over
# Chat Completions and over the Responses API) and @langchain/anthropic (ChatAnthropic), each a
# tool call then a streamed answer to the tool's result, run offline against the sandbox in a
# network namespace with loopback only, through the recorder (scripts/record-proxy.mjs).
# Needs root (ip netns). The packages are installed on demand into $LANGCHAIN_DIR (default
# /tmp/switchyard-langchain), never into this repository.
#
#   sudo scripts/langchain-capture.sh [out-dir] [fixtures-dir]
#
# out-dir (default ./agent-captures/langchain) gets requests.jsonl and the gateway's log; with
# fixtures-dir (e.g. test/fixtures/agents) every recorded request is also written there as a
# fixture `<client>-<n>.json` naming the package versions.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/agent-captures/langchain}" && cd "${1:-$ROOT/agent-captures/langchain}" && pwd)"
FIXTURES="${2:-}"
LC_DIR="${LANGCHAIN_DIR:-/tmp/switchyard-langchain}"
LC_OPENAI="${LC_OPENAI_VERSION:-1.5.8}"
LC_ANTHROPIC="${LC_ANTHROPIC_VERSION:-1.5.11}"
LC_CORE="${LC_CORE_VERSION:-1.4.0}"
NS="switchyard-langchain-$$"
GATEWAY_PORT=18090
PROXY_PORT=18091
KEY="sk-switchyard-local"

if [ ! -d "$LC_DIR/node_modules/@langchain/openai" ] || [ ! -d "$LC_DIR/node_modules/@langchain/anthropic" ]; then
  mkdir -p "$LC_DIR" && (cd "$LC_DIR" && [ -f package.json ] || npm init -y >/dev/null)
  (cd "$LC_DIR" && npm install --no-audit --no-fund "@langchain/openai@$LC_OPENAI" \
    "@langchain/anthropic@$LC_ANTHROPIC" "@langchain/core@$LC_CORE") || {
    echo "FAIL: could not install LangChain"; exit 1; }
fi
version() { node -p "require('$LC_DIR/node_modules/$1/package.json').version"; }
VERSIONS="@langchain/openai $(version @langchain/openai), @langchain/anthropic $(version @langchain/anthropic), @langchain/core $(version @langchain/core)"

ip netns add "$NS" || { echo "FAIL: ip netns add (needs root)"; exit 1; }
cleanup() {
  [ -n "${GATEWAY_PID:-}" ] && kill "$GATEWAY_PID" 2>/dev/null
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null
}
trap cleanup EXIT
ip netns exec "$NS" ip link set lo up

: >"$OUT/requests.jsonl"
DATA="$(mktemp -d)"
# The built CLI when there is one, else the sources through tsx (no build needed).
if [ -f "$ROOT/dist/cli/main.js" ]; then SERVE=(node "$ROOT/bin/switchyard.js")
else SERVE=("$ROOT/node_modules/.bin/tsx" "$ROOT/src/cli/main.ts"); fi
(cd "$DATA" && exec ip netns exec "$NS" "${SERVE[@]}" serve --sandbox \
  --port "$GATEWAY_PORT" >"$OUT/gateway.log" 2>&1) &
GATEWAY_PID=$!
ip netns exec "$NS" node "$ROOT/scripts/record-proxy.mjs" "$PROXY_PORT" "$GATEWAY_PORT" "$OUT/requests.jsonl" &
PROXY_PID=$!
for _ in $(seq 1 300); do
  ip netns exec "$NS" curl -sf "http://127.0.0.1:$GATEWAY_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

LANGCHAIN_DIR="$LC_DIR" timeout 300 ip netns exec "$NS" node "$ROOT/scripts/langchain-capture.mjs" \
  "http://127.0.0.1:$PROXY_PORT" "$KEY" | tee "$OUT/langchain.out"
status=${PIPESTATUS[0]}

if [ -n "$FIXTURES" ]; then
  mkdir -p "$FIXTURES"
  node - "$OUT/requests.jsonl" "$FIXTURES" "$VERSIONS" "$(date -u +%Y-%m-%d)" <<'NODE'
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const [file, dir, versions, day] = process.argv.slice(2);
const CLIENTS = {
  'langchain-openai-chat': 'ChatOpenAI (Chat Completions)',
  'langchain-openai-responses': 'ChatOpenAI ({ useResponsesApi: true })',
  'langchain-anthropic': 'ChatAnthropic',
};
const TURNS = ['bindTools(...).invoke: a tool call', 'bindTools(...).stream: the tool result sent back'];
const seen = {};
for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
  const request = JSON.parse(line);
  const name = request.headers['x-capture-name'];
  if (!CLIENTS[name] || request.method !== 'POST') continue;
  const turn = (seen[name] = (seen[name] ?? 0) + 1);
  const fixture = {
    client: `LangChain JS ${CLIENTS[name]}, ${TURNS[turn - 1] ?? `request ${turn}`}`,
    captured: `recorded ${day} by scripts/langchain-capture.sh (${versions}, ${request.headers['user-agent'] ?? 'no user-agent'}) offline against the sandbox`,
    method: request.method,
    path: request.path,
    body: request.body,
  };
  const target = join(dir, `${name}-${turn}.json`);
  writeFileSync(target, `${JSON.stringify(fixture, null, 2)}\n`);
  console.log(`fixture ${target}`);
}
NODE
fi
echo "captures: $OUT/requests.jsonl ($(wc -l <"$OUT/requests.jsonl") requests)"
exit "$status"
