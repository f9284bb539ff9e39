
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'chatctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'chatctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'chatctl' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('app', 'app', [CompletionResultType]::ParameterValue, 'Create, list, show, rename and delete applications')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Create, list, show and delete an application''s chats')
            [CompletionResult]::new('message', 'message', [CompletionResultType]::ParameterValue, 'Send, list, show, edit, delete and follow a chat''s messages')
            [CompletionResult]::new('search', 'search', [CompletionResultType]::ParameterValue, 'Search a chat''s messages for any part of their text')
            [CompletionResult]::new('recount', 'recount', [CompletionResultType]::ParameterValue, 'Recompute the chats and messages counts from the stored rows, fixing drift')
            [CompletionResult]::new('reindex', 'reindex', [CompletionResultType]::ParameterValue, 'Rebuild the search index from the stored messages')
            [CompletionResult]::new('queue', 'queue', [CompletionResultType]::ParameterValue, 'The distributed profile''s write queue: status, and retrying dead-letter entries')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Create many messages in a chat from a file (JSON Lines or one body per line)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a consistent snapshot of everything (or one application) as an NDJSON stream')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Load an export stream into these stores, tokens and numbers unchanged')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the embedded profile''s database file online, while servers keep writing')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Create a small application with chats and messages, search it, and show it all')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Drive load (create, read, search, mixed) and report throughput, latency and errors')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff) on stdout, or write every page with --dir')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;app' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an application and print it with its new token')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the applications in creation order (over HTTP: needs the admin token)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one application')
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Give an application a new name')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an application with all its chats and messages (over HTTP: needs the admin token)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;app;create' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;app;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Most items to print (the page size with --all) [default: 50, or 1000 with --all]')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this item: the last number (or token) of the previous page')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Follow the pages to the end of the list')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;app;show' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;app;rename' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;app;delete' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;app;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an application and print it with its new token')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the applications in creation order (over HTTP: needs the admin token)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one application')
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Give an application a new name')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an application with all its chats and messages (over HTTP: needs the admin token)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;app;help;create' {
            break
        }
        'chatctl;app;help;list' {
            break
        }
        'chatctl;app;help;show' {
            break
        }
        'chatctl;app;help;rename' {
            break
        }
        'chatctl;app;help;delete' {
            break
        }
        'chatctl;app;help;help' {
            break
        }
        'chatctl;chat' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create the application''s next chat and print its number')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List an application''s chats by number')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one chat')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a chat with all its messages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;chat;create' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;chat;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Most items to print (the page size with --all) [default: 50, or 1000 with --all]')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this item: the last number (or token) of the previous page')
            [CompletionResult]::new('--last', '--last', [CompletionResultType]::ParameterName, 'Print the latest N (highest numbers), in number order, instead of the first page')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Follow the pages to the end of the list')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;chat;show' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;chat;delete' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;chat;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create the application''s next chat and print its number')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List an application''s chats by number')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one chat')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a chat with all its messages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;chat;help;create' {
            break
        }
        'chatctl;chat;help;list' {
            break
        }
        'chatctl;chat;help;show' {
            break
        }
        'chatctl;chat;help;delete' {
            break
        }
        'chatctl;chat;help;help' {
            break
        }
        'chatctl;message' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to a chat and print its number')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Send a message to a chat and print its number')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a chat''s messages by number')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one message in full')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Replace a message''s body')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a message')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Print a chat''s messages as they arrive, until interrupted')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;message;send' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;create' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Most items to print (the page size with --all) [default: 50, or 1000 with --all]')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Start after this item: the last number (or token) of the previous page')
            [CompletionResult]::new('--last', '--last', [CompletionResultType]::ParameterName, 'Print the latest N (highest numbers), in number order, instead of the first page')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Follow the pages to the end of the list')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;show' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;edit' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;delete' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;tail' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Start at this message number (1: the whole chat) instead of new messages only')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;message;help' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to a chat and print its number')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a chat''s messages by number')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one message in full')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Replace a message''s body')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a message')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Print a chat''s messages as they arrive, until interrupted')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;message;help;send' {
            break
        }
        'chatctl;message;help;list' {
            break
        }
        'chatctl;message;help;show' {
            break
        }
        'chatctl;message;help;edit' {
            break
        }
        'chatctl;message;help;delete' {
            break
        }
        'chatctl;message;help;tail' {
            break
        }
        'chatctl;message;help;help' {
            break
        }
        'chatctl;search' {
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'Order: newest (highest number first), oldest, or relevance (the chat''s newest 1,000 matches, best first)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Most results to print (the page size with --all) [default: 50, or 1000 with --all]')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Only messages past this number: below it (newest, relevance) or above it (oldest); the next page of newest/oldest starts after the last number printed')
            [CompletionResult]::new('--offset', '--offset', [CompletionResultType]::ParameterName, 'Skip this many results (relevance pages this way, 0..=999)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Fetch every page (relevance: up to the end of its 1,000-match window)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;recount' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Only this application (default: all of them)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;reindex' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Only this application (default: all of them)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;queue' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the queue''s depth, pending and dead entries, and the oldest entry''s age, in total and per shard')
            [CompletionResult]::new('retry-dead', 'retry-dead', [CompletionResultType]::ParameterValue, 'Move every dead-letter entry back to the queue for the workers to try again')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;queue;status' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;queue;retry-dead' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;queue;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the queue''s depth, pending and dead entries, and the oldest entry''s age, in total and per shard')
            [CompletionResult]::new('retry-dead', 'retry-dead', [CompletionResultType]::ParameterValue, 'Move every dead-letter entry back to the queue for the workers to try again')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;queue;help;status' {
            break
        }
        'chatctl;queue;help;retry-dead' {
            break
        }
        'chatctl;queue;help;help' {
            break
        }
        'chatctl;import' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'How lines are read: `jsonl` is one `{"body": "…"}` per line, `lines` one body per line')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Messages per batch (each batch is one request over HTTP)')
            [CompletionResult]::new('--skip', '--skip', [CompletionResultType]::ParameterName, 'Pass over the first N lines of the input (blank ones count too), e.g. those an interrupted import stored')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Go on where an earlier import of this input stopped: with --skip, check that the chat''s last message is the last line before that point; without, start after the line that holds the chat''s last message. Nothing is created if the check fails')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;export' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Export only this application')
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'Distributed profile: seconds to wait for the queue to persist every write acknowledged before the export started')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--checksum-only', '--checksum-only', [CompletionResultType]::ParameterName, 'Write nothing but the checksum of the content (the same on both sides of a migration)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;restore' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'Add the stream''s applications to a target that already holds others (none of the stream''s tokens may be there)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;backup' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;demo' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Name of the application the demo creates')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;bench' {
            [CompletionResult]::new('--scenario', '--scenario', [CompletionResultType]::ParameterName, 'What each request does')
            [CompletionResult]::new('--mix', '--mix', [CompletionResultType]::ParameterName, 'Shares of a mixed scenario, e.g. create-message=70,read=25,search=5')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Requests in flight at once (workers)')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Requests in flight at once (workers)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'How long to drive the load, e.g. 10s, 500ms, 2m [default: 10s unless -n is given]')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'How long to drive the load, e.g. 10s, 500ms, 2m [default: 10s unless -n is given]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many requests to send, instead of a duration')
            [CompletionResult]::new('--requests', '--requests', [CompletionResultType]::ParameterName, 'How many requests to send, instead of a duration')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Open loop: send this many requests per second on a fixed schedule, whatever the answers'' pace (latency then counts from each request''s scheduled time)')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Drive the same load this long first, uncounted')
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Work in this application instead of creating one')
            [CompletionResult]::new('--chats', '--chats', [CompletionResultType]::ParameterName, 'Chats to create and spread the load over')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Messages per chat seeded for read and search')
            [CompletionResult]::new('--body-size', '--body-size', [CompletionResultType]::ParameterName, 'Characters per created message (generated sentences)')
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'Search order: newest, oldest or relevance')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'Search text instead of the built-in mix; repeatable')
            [CompletionResult]::new('--max-errors', '--max-errors', [CompletionResultType]::ParameterName, 'Exit with code 1 when more requests than this failed')
            [CompletionResult]::new('--plot', '--plot', [CompletionResultType]::ParameterName, 'Write an SVG chart of the run: latency percentiles and throughput over time, and a latency histogram')
            [CompletionResult]::new('--cpu', '--cpu', [CompletionResultType]::ParameterName, 'Also report the CPU time this process (e.g. the server, Redis; `self`: this load generator) spent during the measured run, and per successful request, from /proc/PID/stat; repeatable')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--no-verify', '--no-verify', [CompletionResultType]::ParameterName, 'Skip the check that every acknowledged creation exists with gapless numbers')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;completions' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write chatctl(1) and a page for every subcommand (chatctl-app-create(1), …) into this folder instead of printing chatctl(1)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to the chat-server at this URL instead of opening the stores')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Admin token for the server''s admin operations (app list, app delete, recount, reindex)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5')
            [CompletionResult]::new('--job-timeout', '--job-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s admin jobs (recount, reindex), which can take long')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster''s nodes')
            [CompletionResult]::new('--redis-shards', '--redis-shards', [CompletionResultType]::ParameterName, 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it')
            [CompletionResult]::new('--redis-ack-replicas', '--redis-ack-replicas', [CompletionResultType]::ParameterName, 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it')
            [CompletionResult]::new('--redis-ack-timeout-ms', '--redis-ack-timeout-ms', [CompletionResultType]::ParameterName, 'How long a write waits for those replicas before it fails with 503, in milliseconds')
            [CompletionResult]::new('--elasticsearch-url', '--elasticsearch-url', [CompletionResultType]::ParameterName, 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster')
            [CompletionResult]::new('--redis-prefix', '--redis-prefix', [CompletionResultType]::ParameterName, 'Prefix of every Redis key (distributed profile), so deployments can share one Redis')
            [CompletionResult]::new('--index-prefix', '--index-prefix', [CompletionResultType]::ParameterName, 'The search index''s alias is PREFIX-messages (distributed profile)')
            [CompletionResult]::new('--index-replicas', '--index-replicas', [CompletionResultType]::ParameterName, 'Replicas of the search index (0 on a one-node cluster)')
            [CompletionResult]::new('--index-shards', '--index-shards', [CompletionResultType]::ParameterName, 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex''s')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as --output json')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars, summaries or hints on stderr (errors are still reported)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'chatctl;help' {
            [CompletionResult]::new('app', 'app', [CompletionResultType]::ParameterValue, 'Create, list, show, rename and delete applications')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Create, list, show and delete an application''s chats')
            [CompletionResult]::new('message', 'message', [CompletionResultType]::ParameterValue, 'Send, list, show, edit, delete and follow a chat''s messages')
            [CompletionResult]::new('search', 'search', [CompletionResultType]::ParameterValue, 'Search a chat''s messages for any part of their text')
            [CompletionResult]::new('recount', 'recount', [CompletionResultType]::ParameterValue, 'Recompute the chats and messages counts from the stored rows, fixing drift')
            [CompletionResult]::new('reindex', 'reindex', [CompletionResultType]::ParameterValue, 'Rebuild the search index from the stored messages')
            [CompletionResult]::new('queue', 'queue', [CompletionResultType]::ParameterValue, 'The distributed profile''s write queue: status, and retrying dead-letter entries')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Create many messages in a chat from a file (JSON Lines or one body per line)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a consistent snapshot of everything (or one application) as an NDJSON stream')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Load an export stream into these stores, tokens and numbers unchanged')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the embedded profile''s database file online, while servers keep writing')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Create a small application with chats and messages, search it, and show it all')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Drive load (create, read, search, mixed) and report throughput, latency and errors')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff) on stdout, or write every page with --dir')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'chatctl;help;app' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an application and print it with its new token')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the applications in creation order (over HTTP: needs the admin token)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one application')
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Give an application a new name')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an application with all its chats and messages (over HTTP: needs the admin token)')
            break
        }
        'chatctl;help;app;create' {
            break
        }
        'chatctl;help;app;list' {
            break
        }
        'chatctl;help;app;show' {
            break
        }
        'chatctl;help;app;rename' {
            break
        }
        'chatctl;help;app;delete' {
            break
        }
        'chatctl;help;chat' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create the application''s next chat and print its number')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List an application''s chats by number')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one chat')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a chat with all its messages')
            break
        }
        'chatctl;help;chat;create' {
            break
        }
        'chatctl;help;chat;list' {
            break
        }
        'chatctl;help;chat;show' {
            break
        }
        'chatctl;help;chat;delete' {
            break
        }
        'chatctl;help;message' {
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send a message to a chat and print its number')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a chat''s messages by number')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one message in full')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Replace a message''s body')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a message')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Print a chat''s messages as they arrive, until interrupted')
            break
        }
        'chatctl;help;message;send' {
            break
        }
        'chatctl;help;message;list' {
            break
        }
        'chatctl;help;message;show' {
            break
        }
        'chatctl;help;message;edit' {
            break
        }
        'chatctl;help;message;delete' {
            break
        }
        'chatctl;help;message;tail' {
            break
        }
        'chatctl;help;search' {
            break
        }
        'chatctl;help;recount' {
            break
        }
        'chatctl;help;reindex' {
            break
        }
        'chatctl;help;queue' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the queue''s depth, pending and dead entries, and the oldest entry''s age, in total and per shard')
            [CompletionResult]::new('retry-dead', 'retry-dead', [CompletionResultType]::ParameterValue, 'Move every dead-letter entry back to the queue for the workers to try again')
            break
        }
        'chatctl;help;queue;status' {
            break
        }
        'chatctl;help;queue;retry-dead' {
            break
        }
        'chatctl;help;import' {
            break
        }
        'chatctl;help;export' {
            break
        }
        'chatctl;help;restore' {
            break
        }
        'chatctl;help;backup' {
            break
        }
        'chatctl;help;demo' {
            break
        }
        'chatctl;help;bench' {
            break
        }
        'chatctl;help;completions' {
            break
        }
        'chatctl;help;man' {
            break
        }
        'chatctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
