
use builtin;
use str;

set edit:completion:arg-completer[mailferry] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mailferry'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mailferry'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand sync 'Sync every channel, or only the TARGETs'
            cand list 'Show the folder pairs: far name, near path, whether each side has the folder, and how many messages each side holds (asks the server)'
            cand status 'Show from the state alone, without the network: per folder the last sync (UTC), the pairs, the last error, and any run left unfinished'
            cand check 'Check each account a channel uses: config, address, TLS and the server''s certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed'
            cand import 'Convert another tool''s config and sync state to mailferry''s'
            cand completions 'Print the completion script for SHELL'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailferry;sync'= {
            cand -j 'Folders synced at once (overrides general.jobs)'
            cand --jobs 'Folders synced at once (overrides general.jobs)'
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --dry-run 'Work out and report what would change; change nothing anywhere'
            cand --json 'Print the report as one JSON document on stdout'
            cand --pull 'Only far -> near this run'
            cand --push 'Only near -> far this run'
            cand --force 'Carry out deletions that the mass-deletion guard held back'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;list'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --paths 'Print only the near folder directories that exist, one absolute path a line (for neomutt''s `mailboxes`)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;status'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;check'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;import'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand mbsync 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync''s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailferry;import;mbsync'= {
            cand --mbsyncrc 'The mbsync config (default: $XDG_CONFIG_HOME/isyncrc, else ~/.mbsyncrc)'
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --write 'Write the config to the config path (never over an existing file) and import mbsync''s sync state into the state directory'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;import;help'= {
            cand mbsync 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync''s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailferry;import;help;mbsync'= {
        }
        &'mailferry;import;help;help'= {
        }
        &'mailferry;completions'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;man'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand --verbose 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;help'= {
            cand sync 'Sync every channel, or only the TARGETs'
            cand list 'Show the folder pairs: far name, near path, whether each side has the folder, and how many messages each side holds (asks the server)'
            cand status 'Show from the state alone, without the network: per folder the last sync (UTC), the pairs, the last error, and any run left unfinished'
            cand check 'Check each account a channel uses: config, address, TLS and the server''s certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed'
            cand import 'Convert another tool''s config and sync state to mailferry''s'
            cand completions 'Print the completion script for SHELL'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailferry;help;sync'= {
        }
        &'mailferry;help;list'= {
        }
        &'mailferry;help;status'= {
        }
        &'mailferry;help;check'= {
        }
        &'mailferry;help;import'= {
            cand mbsync 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync''s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line'
        }
        &'mailferry;help;import;mbsync'= {
        }
        &'mailferry;help;completions'= {
        }
        &'mailferry;help;man'= {
        }
        &'mailferry;help;help'= {
        }
    ]
    $completions[$command]
}
