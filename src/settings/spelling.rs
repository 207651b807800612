//! Suggestions for misspelled names: the known name closest to what the user wrote.

/// The candidate closest to `name` by edit distance (case-insensitive), if it is close
/// enough to be a likely typo: at most a third of the name's length apart.
pub fn closest(name: &str, candidates: impl IntoIterator<Item = String>) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(&name, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, with a transposition counting as one edit (Damerau's optimal
/// string alignment): `WROKERS` is one edit from `WORKERS`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let known = || ["RSGI_WORKERS", "RSGI_THREADS", "RSGI_BIND"].map(String::from);
        assert_eq!(
            closest("RSGI_WROKERS", known()).as_deref(),
            Some("RSGI_WORKERS")
        );
        assert_eq!(
            closest("rsgi_thread", known()).as_deref(),
            Some("RSGI_THREADS")
        );
        assert_eq!(closest("RSGI_BIN", known()).as_deref(), Some("RSGI_BIND"));
        assert_eq!(closest("RSGI_DATABASE_URL", known()), None);
    }
}
