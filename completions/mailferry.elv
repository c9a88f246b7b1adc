
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
            cand -v 'More detail: -v folder decisions, -vv message actions'
            cand --verbose 'More detail: -v folder decisions, -vv message actions'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand sync 'Sync every channel, or only the TARGETs'
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
            cand -v 'More detail: -v folder decisions, -vv message actions'
            cand --verbose 'More detail: -v folder decisions, -vv message actions'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;completions'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions'
            cand --verbose 'More detail: -v folder decisions, -vv message actions'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;man'= {
            cand -c 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand --config 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'More detail: -v folder decisions, -vv message actions'
            cand --verbose 'More detail: -v folder decisions, -vv message actions'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailferry;help'= {
            cand sync 'Sync every channel, or only the TARGETs'
            cand completions 'Print the completion script for SHELL'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailferry;help;sync'= {
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
