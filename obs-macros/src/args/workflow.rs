//! `#[workflow]`: the common arguments and the run's budgets.

use proc_macro2::Span;

use super::common::common_keys;
use super::{AttrArgs, CommonArgs, Key};

#[derive(Default)]
pub struct WorkflowArgs {
    pub common: CommonArgs,
    /// In nanoseconds.
    pub deadline: Option<u64>,
    pub max_hops: Option<u64>,
    pub max_tokens: Option<u64>,
    /// The first budget key written, where a missing `From<BudgetExceeded>` is
    /// reported; set even when the key's value is invalid.
    pub budget_key: Option<Span>,
}

impl AttrArgs for WorkflowArgs {
    const NAME: &'static str = "workflow";
    const EXTRA_FIELDS: &'static [&'static str] = &["workflow", "run_id"];
    const DRIVEN: bool = true;

    fn keys() -> Vec<Key<Self>> {
        let mut keys = common_keys();
        keys.extend([
            Key::new("deadline", |arg, a: &mut Self| {
                a.budget_key.get_or_insert(arg.key.span());
                a.deadline = Some(arg.duration()?);
                Ok(())
            }),
            Key::new("max_hops", |arg, a: &mut Self| {
                a.budget_key.get_or_insert(arg.key.span());
                a.max_hops = Some(arg.u64()?);
                Ok(())
            }),
            Key::new("max_tokens", |arg, a: &mut Self| {
                a.budget_key.get_or_insert(arg.key.span());
                a.max_tokens = Some(arg.u64()?);
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
