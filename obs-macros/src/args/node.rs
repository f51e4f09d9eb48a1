//! `#[node]`: the common arguments, retries and the timeout of an attempt.

use proc_macro2::Span;
use syn::Path;

use super::common::common_keys;
use super::{AttrArgs, CommonArgs, Key};

#[derive(Default)]
pub struct NodeArgs {
    pub common: CommonArgs,
    /// The count, with the key's span.
    pub retries: Option<(Span, u32)>,
    /// In nanoseconds; the runtime's defaults when not given.
    pub backoff: Option<u64>,
    pub max_backoff: Option<u64>,
    /// In nanoseconds, with the key's span.
    pub timeout: Option<(Span, u64)>,
    /// The predicate, with the key's span.
    pub retry_if: Option<(Span, Path)>,
}

impl NodeArgs {
    /// Whether a failed attempt can run again.
    pub fn retrying(&self) -> bool {
        self.retries.is_some_and(|(_, n)| n > 0)
    }
}

impl AttrArgs for NodeArgs {
    const NAME: &'static str = "node";
    const EXTRA_FIELDS: &'static [&'static str] = &["node", "attempt"];
    const DRIVEN: bool = true;

    fn keys() -> Vec<Key<Self>> {
        let mut keys = common_keys();
        keys.extend([
            Key::new("retries", |arg, a: &mut Self| {
                let span = arg.key.span();
                let count =
                    u32::try_from(arg.u64()?).map_err(|_| syn::Error::new(span, "`retries` must fit in a u32"))?;
                a.retries = Some((span, count));
                Ok(())
            }),
            Key::new("backoff", |arg, a: &mut Self| {
                a.backoff = Some(arg.duration()?);
                Ok(())
            }),
            Key::new("max_backoff", |arg, a: &mut Self| {
                a.max_backoff = Some(arg.duration()?);
                Ok(())
            }),
            Key::new("retry_if", |arg, a: &mut Self| {
                a.retry_if = Some((arg.key.span(), arg.path()?));
                Ok(())
            }),
            Key::new("timeout", |arg, a: &mut Self| {
                a.timeout = Some((arg.key.span(), arg.duration()?));
                Ok(())
            }),
        ]);
        keys
    }

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn common_mut(&mut self) -> &mut CommonArgs {
        &mut self.common
    }
}
