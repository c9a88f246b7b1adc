
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mailferry' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mailferry'
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
        'mailferry' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Sync every channel, or only the TARGETs')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show the folder pairs: far name, near path, whether each side has the folder, and how many messages each side holds (asks the server)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show from the state alone, without the network: per folder the last sync (UTC), the pairs, the last error, and any run left unfinished')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check each account a channel uses: config, address, TLS and the server''s certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Convert another tool''s config and sync state to mailferry''s')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the completion script for SHELL')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mailferry;sync' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Folders synced at once (overrides general.jobs)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Folders synced at once (overrides general.jobs)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Work out and report what would change; change nothing anywhere')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as one JSON document on stdout')
            [CompletionResult]::new('--pull', '--pull', [CompletionResultType]::ParameterName, 'Only far -> near this run')
            [CompletionResult]::new('--push', '--push', [CompletionResultType]::ParameterName, 'Only near -> far this run')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Carry out deletions that the mass-deletion guard held back')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;list' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--paths', '--paths', [CompletionResultType]::ParameterName, 'Print only the near folder directories that exist, one absolute path a line (for neomutt''s `mailboxes`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;status' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;check' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;import' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('mbsync', 'mbsync', [CompletionResultType]::ParameterValue, 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync''s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mailferry;import;mbsync' {
            [CompletionResult]::new('--mbsyncrc', '--mbsyncrc', [CompletionResultType]::ParameterName, 'The mbsync config (default: $XDG_CONFIG_HOME/isyncrc, else ~/.mbsyncrc)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the config to the config path (never over an existing file) and import mbsync''s sync state into the state directory')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;import;help' {
            [CompletionResult]::new('mbsync', 'mbsync', [CompletionResultType]::ParameterValue, 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync''s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mailferry;import;help;mbsync' {
            break
        }
        'mailferry;import;help;help' {
            break
        }
        'mailferry;completions' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;man' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation (passwords and AUTHENTICATE data masked, message bodies shown by size only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailferry;help' {
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Sync every channel, or only the TARGETs')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show the folder pairs: far name, near path, whether each side has the folder, and how many messages each side holds (asks the server)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show from the state alone, without the network: per folder the last sync (UTC), the pairs, the last error, and any run left unfinished')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check each account a channel uses: config, address, TLS and the server''s certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Convert another tool''s config and sync state to mailferry''s')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the completion script for SHELL')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mailferry;help;sync' {
            break
        }
        'mailferry;help;list' {
            break
        }
        'mailferry;help;status' {
            break
        }
        'mailferry;help;check' {
            break
        }
        'mailferry;help;import' {
            [CompletionResult]::new('mbsync', 'mbsync', [CompletionResultType]::ParameterValue, 'From mbsync (isync): print the equivalent config, or with --write write it and import mbsync''s sync state, so the first sync downloads nothing again. Whatever does not carry over is warned about on stderr, naming the line')
            break
        }
        'mailferry;help;import;mbsync' {
            break
        }
        'mailferry;help;completions' {
            break
        }
        'mailferry;help;man' {
            break
        }
        'mailferry;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
