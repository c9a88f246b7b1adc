# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mailferry_global_optspecs
    string join \n c/config= q/quiet v/verbose h/help V/version
end

function __fish_mailferry_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mailferry_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mailferry_using_subcommand
    set -l cmd (__fish_mailferry_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mailferry -n "__fish_mailferry_needs_command" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_needs_command" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_needs_command" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_needs_command" -s V -l version -d 'Print version'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "sync" -d 'Sync every channel, or only the TARGETs'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "list" -d 'Show the folder pairs: far name, near path, whether each side has the folder, and how many messages each side holds (asks the server)'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "status" -d 'Show from the state alone, without the network: per folder the last sync (UTC), the pairs, the last error, and any run left unfinished'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "check" -d 'Check each account a channel uses: config, address, TLS and the server\'s certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "import" -d 'Convert another tool\'s config and sync state to mailferry\'s'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "completions" -d 'Print the completion script for SHELL'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c mailferry -n "__fish_mailferry_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -s j -l jobs -d 'Folders synced at once (overrides general.jobs)' -r
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -l dry-run -d 'Work out and report what would change; change nothing anywhere'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -l json -d 'Print the report as one JSON document on stdout'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -l pull -d 'Only far -> near this run'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -l push -d 'Only near -> far this run'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -l force -d 'Carry out deletions that the mass-deletion guard held back'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand sync" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand list" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand list" -l paths -d 'Print only the near folder directories that exist, one absolute path a line (for neomutt\'s `mailboxes`)'
complete -c mailferry -n "__fish_mailferry_using_subcommand list" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand list" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand list" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand status" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand status" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand status" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand status" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand check" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand check" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand check" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand check" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and not __fish_seen_subcommand_from mbsync help" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and not __fish_seen_subcommand_from mbsync help" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and not __fish_seen_subcommand_from mbsync help" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and not __fish_seen_subcommand_from mbsync help" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and not __fish_seen_subcommand_from mbsync help" -f -a "mbsync" -d 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync\'s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and not __fish_seen_subcommand_from mbsync help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from mbsync" -l mbsyncrc -d 'The mbsync config (default: $XDG_CONFIG_HOME/isyncrc, else ~/.mbsyncrc)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from mbsync" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from mbsync" -l write -d 'Write the config to the config path (never over an existing file) and import mbsync\'s sync state into the state directory'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from mbsync" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from mbsync" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from mbsync" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "mbsync" -d 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync\'s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line'
complete -c mailferry -n "__fish_mailferry_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailferry -n "__fish_mailferry_using_subcommand completions" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand completions" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand man" -s c -l config -d 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)' -r -F
complete -c mailferry -n "__fish_mailferry_using_subcommand man" -s q -l quiet -d 'Print nothing but errors'
complete -c mailferry -n "__fish_mailferry_using_subcommand man" -s v -l verbose -d 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
complete -c mailferry -n "__fish_mailferry_using_subcommand man" -s h -l help -d 'Print help'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "sync" -d 'Sync every channel, or only the TARGETs'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "list" -d 'Show the folder pairs: far name, near path, whether each side has the folder, and how many messages each side holds (asks the server)'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "status" -d 'Show from the state alone, without the network: per folder the last sync (UTC), the pairs, the last error, and any run left unfinished'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "check" -d 'Check each account a channel uses: config, address, TLS and the server\'s certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "import" -d 'Convert another tool\'s config and sync state to mailferry\'s'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "completions" -d 'Print the completion script for SHELL'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and not __fish_seen_subcommand_from sync list status check import completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailferry -n "__fish_mailferry_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "mbsync" -d 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync\'s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line'
