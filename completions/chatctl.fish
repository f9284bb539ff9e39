# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_chatctl_global_optspecs
    string join \n server= admin-token= timeout= job-timeout= database-url= redis-url= redis-shards= redis-ack-replicas= redis-ack-timeout-ms= elasticsearch-url= redis-prefix= index-prefix= index-replicas= index-shards= fsync= o/output= json q/quiet h/help V/version
end

function __fish_chatctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_chatctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_chatctl_using_subcommand
    set -l cmd (__fish_chatctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c chatctl -n "__fish_chatctl_needs_command" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_needs_command" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_needs_command" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_needs_command" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_needs_command" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_needs_command" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "app" -d 'Create, list, show, rename and delete applications'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "chat" -d 'Create, list, show and delete an application\'s chats'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "message" -d 'Send, list, show, edit, delete and follow a chat\'s messages'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "search" -d 'Search a chat\'s messages for any part of their text'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "recount" -d 'Recompute the chats and messages counts from the stored rows, fixing drift'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "reindex" -d 'Rebuild the search index from the stored messages'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "queue" -d 'The distributed profile\'s write queue: status, and retrying dead-letter entries'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "import" -d 'Create many messages in a chat from a file (JSON Lines or one body per line)'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "export" -d 'Write a consistent snapshot of everything (or one application) as an NDJSON stream'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "restore" -d 'Load an export stream into these stores, tokens and numbers unchanged'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "backup" -d 'Copy the embedded profile\'s database file online, while servers keep writing'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "demo" -d 'Create a small application with chats and messages, search it, and show it all'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "bench" -d 'Drive load (create, read, search, mixed) and report throughput, latency and errors'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, powershell, elvish)'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "man" -d 'Print the man page (roff) on stdout, or write every page with --dir'
complete -c chatctl -n "__fish_chatctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -f -a "create" -d 'Create an application and print it with its new token'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -f -a "list" -d 'List the applications in creation order (over HTTP: needs the admin token)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -f -a "show" -d 'Show one application'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -f -a "rename" -d 'Give an application a new name'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -f -a "delete" -d 'Delete an application with all its chats and messages (over HTTP: needs the admin token)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and not __fish_seen_subcommand_from create list show rename delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l limit -d 'Most items to print (the page size with --all) [default: 50, or 1000 with --all]' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l after -d 'Start after this item: the last number (or token) of the previous page' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l all -d 'Follow the pages to the end of the list'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from rename" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Delete without asking (required when stdin is not a terminal)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an application and print it with its new token'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the applications in creation order (over HTTP: needs the admin token)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one application'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from help" -f -a "rename" -d 'Give an application a new name'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an application with all its chats and messages (over HTTP: needs the admin token)'
complete -c chatctl -n "__fish_chatctl_using_subcommand app; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -f -a "create" -d 'Create the application\'s next chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -f -a "list" -d 'List an application\'s chats by number'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -f -a "show" -d 'Show one chat'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -f -a "delete" -d 'Delete a chat with all its messages'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and not __fish_seen_subcommand_from create list show delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l limit -d 'Most items to print (the page size with --all) [default: 50, or 1000 with --all]' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l after -d 'Start after this item: the last number (or token) of the previous page' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l last -d 'Print the latest N (highest numbers), in number order, instead of the first page' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l all -d 'Follow the pages to the end of the list'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Delete without asking (required when stdin is not a terminal)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create the application\'s next chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from help" -f -a "list" -d 'List an application\'s chats by number'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one chat'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a chat with all its messages'
complete -c chatctl -n "__fish_chatctl_using_subcommand chat; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "send" -d 'Send a message to a chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "create" -d 'Send a message to a chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "list" -d 'List a chat\'s messages by number'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "show" -d 'Show one message in full'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "edit" -d 'Replace a message\'s body'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "delete" -d 'Delete a message'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "tail" -d 'Print a chat\'s messages as they arrive, until interrupted'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and not __fish_seen_subcommand_from send create list show edit delete tail help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from send" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l limit -d 'Most items to print (the page size with --all) [default: 50, or 1000 with --all]' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l after -d 'Start after this item: the last number (or token) of the previous page' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l last -d 'Print the latest N (highest numbers), in number order, instead of the first page' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l all -d 'Follow the pages to the end of the list'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from edit" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Delete without asking (required when stdin is not a terminal)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l from -d 'Start at this message number (1: the whole chat) instead of new messages only' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from tail" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "send" -d 'Send a message to a chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "list" -d 'List a chat\'s messages by number'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one message in full'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "edit" -d 'Replace a message\'s body'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a message'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "tail" -d 'Print a chat\'s messages as they arrive, until interrupted'
complete -c chatctl -n "__fish_chatctl_using_subcommand message; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l sort -d 'Order: newest (highest number first), oldest, or relevance (the chat\'s newest 1,000 matches, best first)' -r -f -a "newest\t''
oldest\t''
relevance\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l limit -d 'Most results to print (the page size with --all) [default: 50, or 1000 with --all]' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l after -d 'Only messages past this number: below it (newest, relevance) or above it (oldest); the next page of newest/oldest starts after the last number printed' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l offset -d 'Skip this many results (relevance pages this way, 0..=999)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l all -d 'Fetch every page (relevance: up to the end of its 1,000-match window)'
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand search" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l app -d 'Only this application (default: all of them)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand recount" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l app -d 'Only this application (default: all of them)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand reindex" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -f -a "status" -d 'Show the queue\'s depth, pending and dead entries, and the oldest entry\'s age, in total and per shard'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -f -a "retry-dead" -d 'Move every dead-letter entry back to the queue for the workers to try again'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and not __fish_seen_subcommand_from status retry-dead help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from retry-dead" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the queue\'s depth, pending and dead entries, and the oldest entry\'s age, in total and per shard'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "retry-dead" -d 'Move every dead-letter entry back to the queue for the workers to try again'
complete -c chatctl -n "__fish_chatctl_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l format -d 'How lines are read: `jsonl` is one `{"body": "…"}` per line, `lines` one body per line' -r -f -a "auto\t'JSON Lines when the first non-blank line starts with `{`, else one body per line'
jsonl\t'One JSON object with a "body" string per line'
lines\t'One body per line, taken as is'"
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l batch -d 'Messages per batch (each batch is one request over HTTP)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l skip -d 'Pass over the first N lines of the input (blank ones count too), e.g. those an interrupted import stored' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l resume -d 'Go on where an earlier import of this input stopped: with --skip, check that the chat\'s last message is the last line before that point; without, start after the line that holds the chat\'s last message. Nothing is created if the check fails'
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand import" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l app -d 'Export only this application' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l drain-timeout -d 'Distributed profile: seconds to wait for the queue to persist every write acknowledged before the export started' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l checksum-only -d 'Write nothing but the checksum of the content (the same on both sides of a migration)'
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand export" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l merge -d 'Add the stream\'s applications to a target that already holds others (none of the stream\'s tokens may be there)'
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand restore" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand backup" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l name -d 'Name of the application the demo creates' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand demo" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l scenario -d 'What each request does' -r -f -a "create-message\t'`create_message` in the seeded chats, round robin'
create-chat\t'`create_chat` in the application'
read\t'`get_message` of a random seeded message'
search\t'`search_messages` in a random chat, for a substring of the seeded text (limit 20)'
health\t'The server\'s `GET /health` (with --server only): the trivial route, as a ceiling'
mixed\t'Several of the above in the proportions of --mix'"
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l mix -d 'Shares of a mixed scenario, e.g. create-message=70,read=25,search=5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s c -l concurrency -d 'Requests in flight at once (workers)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s d -l duration -d 'How long to drive the load, e.g. 10s, 500ms, 2m [default: 10s unless -n is given]' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s n -l requests -d 'How many requests to send, instead of a duration' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l rate -d 'Open loop: send this many requests per second on a fixed schedule, whatever the answers\' pace (latency then counts from each request\'s scheduled time)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l warmup -d 'Drive the same load this long first, uncounted' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l app -d 'Work in this application instead of creating one' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l chats -d 'Chats to create and spread the load over' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l seed -d 'Messages per chat seeded for read and search' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l body-size -d 'Characters per created message (generated sentences)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l sort -d 'Search order: newest, oldest or relevance' -r -f -a "newest\t''
oldest\t''
relevance\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l query -d 'Search text instead of the built-in mix; repeatable' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l max-errors -d 'Exit with code 1 when more requests than this failed' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l plot -d 'Write an SVG chart of the run: latency percentiles and throughput over time, and a latency histogram' -r -F
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l cpu -d 'Also report the CPU time this process (e.g. the server, Redis; `self`: this load generator) spent during the measured run, and per successful request, from /proc/PID/stat; repeatable' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l no-verify -d 'Skip the check that every acknowledged creation exists with gapless numbers'
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c chatctl -n "__fish_chatctl_using_subcommand bench" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l dir -d 'Write chatctl(1) and a page for every subcommand (chatctl-app-create(1), …) into this folder instead of printing chatctl(1)' -r -F
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l server -d 'Talk to the chat-server at this URL instead of opening the stores' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l admin-token -d 'Admin token for the server\'s admin operations (app list, app delete, recount, reindex)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l timeout -d 'Seconds to wait for each answer of the server (connecting included), except the admin jobs; a server that does not answer in time exits 5' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l job-timeout -d 'Seconds to wait for the server\'s admin jobs (recount, reindex), which can take long' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l database-url -d 'Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE (distributed profile, with --redis-url)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l redis-url -d 'Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a comma-separated list of a Redis Cluster\'s nodes' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l redis-shards -d 'Queue shards (streams) of the distributed profile; fixed once a deployment has used it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l redis-ack-replicas -d 'Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the master has it' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l redis-ack-timeout-ms -d 'How long a write waits for those replicas before it fails with 503, in milliseconds' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l elasticsearch-url -d 'Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a comma-separated list of the nodes of one cluster' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l redis-prefix -d 'Prefix of every Redis key (distributed profile), so deployments can share one Redis' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l index-prefix -d 'The search index\'s alias is PREFIX-messages (distributed profile)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l index-replicas -d 'Replicas of the search index (0 on a one-node cluster)' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l index-shards -d 'Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or more). Applies to indices created from now on: the first, and each full reindex\'s' -r
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l fsync -d 'Wait for the disk on every commit (survives power loss); off still survives a killed process. Accepts true/false, 1/0, yes/no, on/off' -r -f -a "true\t''
false\t''"
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -s o -l output -d 'How to print results: tables for people (tab-separated lines when piped), JSON for scripts, or `name`: only the tokens or numbers, one per line' -r -f -a "table\t'Tables sized to the terminal'
json\t'The API\'s JSON representations: an array for lists, an object otherwise'
name\t'Only the tokens (applications) or numbers (chats, messages), one per line'"
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -l json -d 'Same as --output json'
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -s q -l quiet -d 'No progress bars, summaries or hints on stderr (errors are still reported)'
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -s h -l help -d 'Print help'
complete -c chatctl -n "__fish_chatctl_using_subcommand man" -s V -l version -d 'Print version'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "app" -d 'Create, list, show, rename and delete applications'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "chat" -d 'Create, list, show and delete an application\'s chats'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "message" -d 'Send, list, show, edit, delete and follow a chat\'s messages'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "search" -d 'Search a chat\'s messages for any part of their text'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "recount" -d 'Recompute the chats and messages counts from the stored rows, fixing drift'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "reindex" -d 'Rebuild the search index from the stored messages'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "queue" -d 'The distributed profile\'s write queue: status, and retrying dead-letter entries'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "import" -d 'Create many messages in a chat from a file (JSON Lines or one body per line)'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "export" -d 'Write a consistent snapshot of everything (or one application) as an NDJSON stream'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "restore" -d 'Load an export stream into these stores, tokens and numbers unchanged'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "backup" -d 'Copy the embedded profile\'s database file online, while servers keep writing'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "demo" -d 'Create a small application with chats and messages, search it, and show it all'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "bench" -d 'Drive load (create, read, search, mixed) and report throughput, latency and errors'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, powershell, elvish)'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "man" -d 'Print the man page (roff) on stdout, or write every page with --dir'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and not __fish_seen_subcommand_from app chat message search recount reindex queue import export restore backup demo bench completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from app" -f -a "create" -d 'Create an application and print it with its new token'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from app" -f -a "list" -d 'List the applications in creation order (over HTTP: needs the admin token)'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from app" -f -a "show" -d 'Show one application'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from app" -f -a "rename" -d 'Give an application a new name'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from app" -f -a "delete" -d 'Delete an application with all its chats and messages (over HTTP: needs the admin token)'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from chat" -f -a "create" -d 'Create the application\'s next chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from chat" -f -a "list" -d 'List an application\'s chats by number'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from chat" -f -a "show" -d 'Show one chat'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from chat" -f -a "delete" -d 'Delete a chat with all its messages'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "send" -d 'Send a message to a chat and print its number'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "list" -d 'List a chat\'s messages by number'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "show" -d 'Show one message in full'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "edit" -d 'Replace a message\'s body'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "delete" -d 'Delete a message'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from message" -f -a "tail" -d 'Print a chat\'s messages as they arrive, until interrupted'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from queue" -f -a "status" -d 'Show the queue\'s depth, pending and dead entries, and the oldest entry\'s age, in total and per shard'
complete -c chatctl -n "__fish_chatctl_using_subcommand help; and __fish_seen_subcommand_from queue" -f -a "retry-dead" -d 'Move every dead-letter entry back to the queue for the workers to try again'
