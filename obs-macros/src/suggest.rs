//! "Did you mean ...?" for a misspelled name: the one known name close enough
//! to be the one meant.

/// The candidate `name` most likely misspells: one edit away (two for names
/// of eight characters and more), and closer than any other. Further than
/// that a guess misleads (`retries` is not a typo of `metrics`).
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 4).max(1);
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    for candidate in candidates {
        let distance = strsim::damerau_levenshtein(name, candidate);
        if distance == 0 || distance > limit {
            continue;
        }
        match best {
            Some((closest, _)) if distance > closest => {}
            Some((closest, _)) if distance == closest => tied = true,
            _ => {
                best = Some((distance, candidate));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, candidate)| candidate)
}

/// `", did you mean `x`?"`, or nothing.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(name, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_or_tied_ones_are_not() {
        let keys = ["level", "name", "skip", "skip_all", "fields", "err", "ret"];
        assert_eq!(did_you_mean("levl", keys), Some("level"));
        assert_eq!(did_you_mean("lvel", keys), Some("level"));
        assert_eq!(did_you_mean("skipall", keys), Some("skip_all"));
        assert_eq!(did_you_mean("pasword", ["password", "order_id"]), Some("password"));
        assert_eq!(did_you_mean("timeout", keys), None);
        assert_eq!(did_you_mean("retries", ["metrics", "deadline"]), None, "two edits in a short name is a guess");
        assert_eq!(did_you_mean("deadlnie", ["deadline"]), Some("deadline"));
        assert_eq!(did_you_mean("er", ["err", "ret"]), Some("err"));
        assert_eq!(did_you_mean("rt", ["ret", "rat"]), None, "two equally close");
    }
}
