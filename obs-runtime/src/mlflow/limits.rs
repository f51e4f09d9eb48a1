//! MLflow's limits, as the 3.x tracking server checks them
//! (`mlflow/utils/validation.py`): a `runs/log-batch` request holds at most
//! 1000 metrics, 100 params and 100 tags (1000 entities in all) in at most 1 MB
//! of JSON; a param or metric key is at most 250 characters, a param value 6000,
//! a tag value 8000. A batch past them is refused whole, so obs splits batches
//! and cuts long keys and values (marked) rather than lose the run's data.

pub(crate) const MAX_METRICS_PER_BATCH: usize = 1000;
pub(crate) const MAX_PARAMS_PER_BATCH: usize = 100;
pub(crate) const MAX_TAGS_PER_BATCH: usize = 100;
pub(crate) const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// Below the server's 1 MB, for the JSON around the entries.
pub(crate) const MAX_BATCH_BYTES: usize = 900_000;
pub(crate) const MAX_KEY_LENGTH: usize = 250;
pub(crate) const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub(crate) const MAX_TAG_VALUE_LENGTH: usize = 8000;

/// What a cut text ends with.
pub(crate) const TRUNCATED: &str = "...[truncated]";

/// `text` if it has at most `max` characters, else its first characters and
/// [`TRUNCATED`], `max` characters in all.
pub(crate) fn fit(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let keep = max.saturating_sub(TRUNCATED.len());
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str(TRUNCATED);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_to_the_limit_and_marked() {
        assert_eq!(fit("short".into(), 10), "short");
        let cut = fit("é".repeat(300), MAX_KEY_LENGTH);
        assert_eq!(cut.chars().count(), MAX_KEY_LENGTH);
        assert!(cut.ends_with(TRUNCATED));
        assert!(cut.starts_with("éé"));
    }
}
