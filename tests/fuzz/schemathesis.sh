#!/usr/bin/env bash
# A property-based run of schemathesis over a chat-server's OpenAPI document, as the HTTP tests
# call it: every operation gets a bounded number of generated, schema-valid requests (fixed
# seed), and the run fails on any 5xx, any response that breaks the document (status, content
# type, schema), and any schema-valid request that is refused (only 2xx and 404 are accepted:
# generated tokens and numbers mostly name nothing).
#
# The pinned packages (requirements.txt next to this file) are installed on first use into a
# virtualenv, kept until the pins change.
#
#   tests/fuzz/schemathesis.sh VENV SCHEMA BASE_URL ADMIN_TOKEN SEED EXAMPLES
#
# SCHEMA is a URL or an absolute path. /admin/queue is left out: it belongs to the distributed profile and
# answers 400 on the embedded one, as documented (the HTTP tests check that). The live stream and
# the stats stream are left out too: their 200 is an endless event stream, which a
# request/response run can only time out on; tests/tests/live.rs and tests/tests/web_console.rs check
# their answers and refusals. DELETE operations are fuzzed like the others; the HTTP test leaves
# them out of its run on pinned (existing) tokens, so that they cannot delete what that run is
# about.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv=$1 schema=$2 base_url=$3 admin=$4 seed=$5 examples=$6

if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi

# Hypothesis keeps caches in the working directory: keep them in the virtualenv.
cd "$venv"
run() {
    "$venv/bin/schemathesis" run "$schema" \
        --base-url "$base_url" \
        --header "Authorization: Bearer $admin" \
        --experimental openapi-3.1 \
        --hypothesis-max-examples "$examples" \
        --hypothesis-seed "$seed" \
        --hypothesis-deadline 10000 \
        --hypothesis-database none \
        --no-color \
        "$@"
}
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
run --checks "$checks" \
    --experimental positive_data_acceptance \
    --experimental-positive-data-acceptance-allowed-statuses 2xx,404 \
    --exclude-path-regex '^/api/v1/admin/queue|/messages/stream$|^/api/v1/stats/stream$'
