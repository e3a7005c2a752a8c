//! Glob patterns for `sync --exclude`, matched against paths relative to
//! the synced directory (`/` between names), as rsync reads them:
//!
//! - a pattern without `/` matches a name at any depth (`*.pyc`, `__pycache__`);
//! - a pattern with `/` inside matches the whole relative path from the top
//!   (`lib/*.mpy`; a leading `/` only anchors, `/main.py`);
//! - a trailing `/` matches directories only (`build/`);
//! - `*` matches within a name, `**` across `/`, `?` one character,
//!   `[abc]`, `[a-z]`, `[!abc]` a character of (not of) the set.

/// One `--exclude` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
    /// Matches the whole relative path (else any single name).
    anchored: bool,
    /// Matches directories only.
    dirs_only: bool,
}

impl Glob {
    /// Read a pattern (see the module documentation).
    pub fn new(text: &str) -> Glob {
        let dirs_only = text.len() > 1 && text.ends_with('/');
        let t = text.strip_suffix('/').filter(|_| dirs_only).unwrap_or(text);
        let anchored = t.contains('/');
        let t = t.strip_prefix('/').unwrap_or(t);
        Glob { pattern: t.chars().collect(), anchored, dirs_only }
    }

    /// Whether the entry at `rel` (relative path, `/` between names) matches.
    pub fn matches(&self, rel: &str, is_dir: bool) -> bool {
        if self.dirs_only && !is_dir {
            return false;
        }
        let subject = if self.anchored { rel } else { rel.rsplit('/').next().unwrap_or(rel) };
        let s: Vec<char> = subject.chars().collect();
        matches_at(&self.pattern, &s)
    }
}

/// Whether `pat` matches all of `s`.
fn matches_at(pat: &[char], s: &[char]) -> bool {
    match pat.first() {
        None => s.is_empty(),
        Some('*') if pat.get(1) == Some(&'*') => {
            // `**` (and `**/`, which may also match nothing): anything, `/` included.
            let rest = &pat[2..];
            let rest_no_slash = rest.strip_prefix(&['/']).unwrap_or(rest);
            (0..=s.len()).any(|i| matches_at(rest, &s[i..]) || matches_at(rest_no_slash, &s[i..]))
        }
        Some('*') => {
            let rest = &pat[1..];
            let stop = s.iter().position(|&c| c == '/').unwrap_or(s.len());
            (0..=stop).any(|i| matches_at(rest, &s[i..]))
        }
        Some('?') => s.first().is_some_and(|&c| c != '/') && matches_at(&pat[1..], &s[1..]),
        Some('[') => match (class(&pat[1..]), s.first()) {
            (Some((matched, len)), Some(&c)) if c != '/' => matched(c) && matches_at(&pat[1 + len..], &s[1..]),
            (None, Some(&c)) => c == '[' && matches_at(&pat[1..], &s[1..]),
            _ => false,
        },
        Some(&p) => s.first() == Some(&p) && matches_at(&pat[1..], &s[1..]),
    }
}

type ClassFn = Box<dyn Fn(char) -> bool>;

/// A `[...]` class after its `[`: the test and how many pattern characters
/// it takes (through the `]`); None when it is not closed (then `[` is literal).
fn class(pat: &[char]) -> Option<(ClassFn, usize)> {
    let negate = matches!(pat.first(), Some('!') | Some('^'));
    let start = usize::from(negate);
    // A `]` first in the set is a member, not the end.
    let close = pat.iter().skip(start + 1).position(|&c| c == ']')? + start + 1;
    let set: Vec<char> = pat[start..close].to_vec();
    let test = move |c: char| {
        let mut i = 0;
        let mut hit = false;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == '-' {
                hit |= set[i] <= c && c <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == c;
                i += 1;
            }
        }
        hit != negate
    };
    Some((Box::new(test), close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, rel: &str) -> bool {
        Glob::new(p).matches(rel, false)
    }

    #[test]
    fn names_at_any_depth() {
        assert!(m("*.pyc", "a.pyc"));
        assert!(m("*.pyc", "lib/sub/a.pyc"));
        assert!(!m("*.pyc", "a.py"));
        assert!(m("main.py", "lib/main.py"));
        assert!(m("?.py", "a.py") && !m("?.py", "ab.py"));
        assert!(m("*", "anything"));
    }

    #[test]
    fn paths_from_the_top() {
        assert!(m("lib/*.mpy", "lib/x.mpy"));
        assert!(!m("lib/*.mpy", "lib/sub/x.mpy"), "* does not cross /");
        assert!(!m("lib/*.mpy", "src/lib/x.mpy"), "anchored at the top");
        assert!(m("/main.py", "main.py") && !m("/main.py", "lib/main.py"));
        assert!(m("lib/**/*.mpy", "lib/a/b/x.mpy") && m("lib/**/*.mpy", "lib/x.mpy"));
        assert!(m("**/test_*.py", "test_a.py") && m("**/test_*.py", "t/u/test_b.py"));
    }

    #[test]
    fn directories_only_and_classes() {
        let g = Glob::new("build/");
        assert!(g.matches("build", true) && g.matches("x/build", true));
        assert!(!g.matches("build", false));
        assert!(m("[abc].py", "b.py") && !m("[abc].py", "d.py"));
        assert!(m("[a-c]x", "bx") && !m("[a-c]x", "dx"));
        assert!(m("[!a-c]x", "dx") && !m("[!a-c]x", "ax"));
        assert!(m("[]]", "]"));
        assert!(m("[x", "[x"), "an unclosed [ is literal");
    }
}
