#!/bin/sh
# One-shot job (temporalio/admin-tools image), run once the Temporal server is
# up: creates Skybridge's namespace and the custom search attributes its
# workflows set. Safe to run on every `docker compose up`: everything that
# already exists is left alone.
set -eu

: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
: "${TEMPORAL_NAMESPACE_RETENTION:=72h}"
# All of type Keyword. Keep in step with the workflows that set them.
SEARCH_ATTRIBUTES="SkybridgeKind SkybridgeWorkspace SkybridgeRepository SkybridgeStatus"

tcli() { temporal "$@" --address "$TEMPORAL_ADDRESS"; }

# `cluster health` prints SERVING or NOT_SERVING; -w keeps NOT_SERVING out.
serving() { tcli operator cluster health 2>/dev/null | grep -qw SERVING; }

echo "setup-namespace: waiting for Temporal at $TEMPORAL_ADDRESS"
attempt=1
until serving; do
  if [ "$attempt" -ge 60 ]; then
    echo "setup-namespace: Temporal at $TEMPORAL_ADDRESS is not serving" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

if tcli operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  echo "setup-namespace: namespace $TEMPORAL_NAMESPACE already exists"
else
  echo "setup-namespace: creating namespace $TEMPORAL_NAMESPACE (retention $TEMPORAL_NAMESPACE_RETENTION)"
  tcli operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
    --retention "$TEMPORAL_NAMESPACE_RETENTION" \
    --description "Skybridge workflows"
fi

has_search_attribute() {
  tcli operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" 2>/dev/null | grep -qw "$1"
}

# A namespace that was just created takes a few seconds to reach the server's
# namespace cache, and until then search-attribute calls fail: retry, and
# judge success by listing rather than by the create call's exit code (a
# create that timed out may still have happened).
created=0
for name in $SEARCH_ATTRIBUTES; do
  attempt=1
  until has_search_attribute "$name"; do
    if [ "$attempt" -gt 30 ]; then
      echo "setup-namespace: could not create search attribute $name" >&2
      exit 1
    fi
    if [ "$attempt" -eq 1 ]; then echo "setup-namespace: creating search attribute $name (Keyword)"; fi
    tcli operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
      --name "$name" --type Keyword >/dev/null 2>&1 || true
    created=1
    attempt=$((attempt + 1))
    sleep 2
  done
done

# New search attributes reach the frontend's caches after their refresh
# interval; wait that out so the first workflow started right after this job
# is not refused for an unknown search attribute.
if [ "$created" -eq 1 ]; then sleep 10; fi

echo "setup-namespace: done"
