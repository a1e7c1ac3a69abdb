#!/bin/sh
# Caddy's entrypoint in compose's scale profile. From WEBHOOK_URL it takes the site Caddy
# gets a certificate for and the path Telegram posts to; it lists the BOT_REPLICAS
# replicas by container name, since Caddy health-checks only a fixed list of upstreams
# (not those it finds by DNS). Then it runs Caddy on deploy/caddy/Caddyfile.
set -eu
case "${WEBHOOK_URL:-}" in
https://*/?*) ;;
*)
    echo "caddy: WEBHOOK_URL must be https://HOST/PATH in the scale profile, is '${WEBHOOK_URL:-}'" >&2
    exit 2
    ;;
esac
WEBHOOK_SITE=$(printf '%s' "$WEBHOOK_URL" | cut -d/ -f1-3)
WEBHOOK_PATH=/$(printf '%s' "$WEBHOOK_URL" | cut -d/ -f4- | cut -d'?' -f1)
BOT_UPSTREAMS=""
i=1
while [ "$i" -le "${BOT_REPLICAS:-1}" ]; do
    BOT_UPSTREAMS="$BOT_UPSTREAMS segment-bot-bot-$i:8080"
    i=$((i + 1))
done
export WEBHOOK_SITE WEBHOOK_PATH BOT_UPSTREAMS
exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile
