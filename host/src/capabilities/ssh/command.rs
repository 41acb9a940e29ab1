//! Command lines built from a program and its arguments, never from a shell
//! line a plugin wrote: the program is a plain name or path, every argument
//! and path is validated and single-quoted. Arguments that look like an
//! injection attempt (`;`, `|`, `&`, `<`, `>`, `$`, backticks, newlines or
//! any other control character) are refused outright, even though quoting
//! would neutralise them, so a node name such as `n1;reboot` never reaches a
//! machine in any form.

use super::SshError;

/// Longest program name or path.
const MAX_PROGRAM: usize = 256;
/// Longest single argument or path.
const MAX_ARG: usize = 8192;
/// Most arguments of one command.
const MAX_ARGS: usize = 256;

/// Characters an argument or path may never contain.
fn forbidden(c: char) -> Option<&'static str> {
    Some(match c {
        ';' => "`;`",
        '|' => "`|`",
        '&' => "`&`",
        '<' | '>' => "a redirection",
        '$' => "`$` (expansion)",
        '`' => "a backtick",
        '\n' | '\r' => "a newline",
        '\0' => "a NUL byte",
        c if c.is_control() => "a control character",
        _ => return None,
    })
}

/// Check one argument (or path); `what` names it in the error.
pub fn check_arg(what: &str, value: &str) -> Result<(), SshError> {
    if value.len() > MAX_ARG {
        return Err(SshError::Invalid(format!(
            "{what} is longer than {MAX_ARG} bytes"
        )));
    }
    if let Some(reason) = value.chars().find_map(forbidden) {
        return Err(SshError::Invalid(format!(
            "{what} `{}` contains {reason}, which is refused",
            shown(value)
        )));
    }
    Ok(())
}

/// The value as it may appear in an error message (control characters
/// escaped, long values cut).
fn shown(value: &str) -> String {
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    if escaped.len() > 80 {
        let cut: String = escaped.chars().take(77).collect();
        format!("{cut}...")
    } else {
        escaped
    }
}

/// A program: a plain command name or an absolute/relative path made of
/// letters, digits and `_ . + / -`.
pub fn check_program(program: &str) -> Result<(), SshError> {
    let ok = !program.is_empty()
        && program.len() <= MAX_PROGRAM
        && !program.starts_with('-')
        && program
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '/' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SshError::Invalid(format!(
            "program `{}` must be a command name or path (letters, digits, `_ . + / -`)",
            shown(program)
        )))
    }
}

/// A path for upload or download: not empty, no injection characters.
pub fn check_path(path: &str) -> Result<(), SshError> {
    if path.is_empty() {
        return Err(SshError::Invalid("path must not be empty".into()));
    }
    check_arg("path", path)
}

/// Quote one word for a POSIX shell: as is when it only holds characters no
/// shell treats specially, else in single quotes (`'` as `'\''`).
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command line for `program args...`, every part validated and quoted.
pub fn build(program: &str, args: &[String]) -> Result<String, SshError> {
    check_program(program)?;
    if args.len() > MAX_ARGS {
        return Err(SshError::Invalid(format!(
            "a command takes at most {MAX_ARGS} arguments"
        )));
    }
    let mut line = quote(program);
    for (i, a) in args.iter().enumerate() {
        check_arg(&format!("argument {}", i + 1), a)?;
        line.push(' ');
        line.push_str(&quote(a));
    }
    Ok(line)
}

/// The command that writes stdin to `path` with `mode`, atomically (a
/// temporary file beside it, then a rename).
pub fn upload(path: &str, mode: u32) -> Result<String, SshError> {
    check_path(path)?;
    if path.ends_with('/') {
        return Err(SshError::Invalid(format!(
            "path `{}` names a directory, not a file",
            shown(path)
        )));
    }
    let dir = match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    };
    let tmp = format!("{path}.computehub-upload");
    Ok(format!(
        "mkdir -p -- {dir} && cat > {tmp} && chmod {mode:o} -- {tmp} && mv -f -- {tmp} {dest}",
        dir = quote(dir),
        tmp = quote(&tmp),
        mode = mode & 0o7777,
        dest = quote(path),
    ))
}

/// The command that prints `path`.
pub fn download(path: &str) -> Result<String, SshError> {
    check_path(path)?;
    Ok(format!("cat -- {}", quote(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_words_stay_plain_and_others_are_quoted() {
        let line = build(
            "kubeadm",
            &args(&[
                "join",
                "10.0.0.1:6443",
                "--token",
                "ab.cd",
                "a b",
                "it's",
                "",
            ]),
        )
        .unwrap();
        assert_eq!(
            line,
            r"kubeadm join 10.0.0.1:6443 --token ab.cd 'a b' 'it'\''s' ''"
        );
    }

    #[test]
    fn injection_attempts_are_refused() {
        for bad in [
            "n1;reboot",
            "$(id)",
            "${HOME}",
            "`id`",
            "a\nb",
            "a\rb",
            "a|b",
            "a&&b",
            "a>b",
            "a\0b",
        ] {
            let e = build("echo", &args(&[bad])).unwrap_err();
            assert!(
                matches!(&e, SshError::Invalid(m) if m.contains("argument 1")),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn programs_are_names_or_paths() {
        assert!(build("/usr/bin/env", &[]).is_ok());
        for bad in ["", "rm -rf", "a;b", "-x", "$(x)", "a\nb"] {
            assert!(build(bad, &[]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn transfers_quote_their_paths() {
        assert_eq!(
            download("/etc/kubernetes/admin.conf").unwrap(),
            "cat -- /etc/kubernetes/admin.conf"
        );
        assert_eq!(
            upload("/tmp/a b/x.yaml", 0o600).unwrap(),
            "mkdir -p -- '/tmp/a b' && cat > '/tmp/a b/x.yaml.computehub-upload' && chmod 600 -- '/tmp/a b/x.yaml.computehub-upload' && mv -f -- '/tmp/a b/x.yaml.computehub-upload' '/tmp/a b/x.yaml'"
        );
        assert!(upload("/tmp/x;reboot", 0o644).is_err());
        assert!(upload("/tmp/dir/", 0o644).is_err());
        assert!(download("").is_err());
    }
}
