#!/bin/bash
# Every variable with a dot in its name is a node setting, as in the Elasticsearch image;
# xpack.* settings have no meaning here (this distribution has no security plugin) and are
# left out, with a line saying so.
set -euo pipefail
settings=(-Epath.data=/usr/share/elasticsearch/data -Enetwork.host=0.0.0.0)
while IFS='=' read -r -d '' name value; do
    [[ $name == *.* ]] || continue
    if [[ $name == xpack.* ]]; then
        echo "entrypoint: $name has no meaning for OpenSearch; left out" >&2
        continue
    fi
    settings+=("-E$name=$value")
done < <(env -0)
export OPENSEARCH_JAVA_OPTS="${ES_JAVA_OPTS:-${OPENSEARCH_JAVA_OPTS:-}}"
exec /usr/share/opensearch/bin/opensearch "${settings[@]}" "$@"
