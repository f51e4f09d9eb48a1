//! Service level objectives, as the annotation states them:
//! `#[observe(objective(success = 99.9, latency = "250ms", percentile = 99))]`,
//! or `objective = CHECKOUT` naming a `const` built here. Every constructor is
//! a `const fn` that never panics; [`Objective::check`] says what is wrong
//! with one, and the macro runs it at compile time (a named objective that is
//! out of range fails the build, not the application).

use std::time::Duration;

/// What a function, workflow or node promises: a success ratio, a latency
/// threshold met by a share of calls, or both. The generated Prometheus rules
/// turn each into multi-window burn-rate alerts (see [`crate::ops`]).
///
/// ```
/// use obs_runtime::ops::Objective;
///
/// /// 99.9 % of checkouts succeed, 99 % of them within 250 ms.
/// const CHECKOUT: Objective = Objective::new().success(99.9).latency_ms(250).percentile(99.0);
///
/// #[obs_runtime::observe(objective = CHECKOUT)]
/// fn checkout() {}
///
/// assert_eq!(CHECKOUT.success_percent(), Some(99.9));
/// assert_eq!(CHECKOUT.latency_threshold(), Some(std::time::Duration::from_millis(250)));
/// assert!(CHECKOUT.check().is_ok());
/// assert!(Objective::new().success(100.0).check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    success: Option<f64>,
    latency_nanos: Option<u64>,
    percentile: f64,
}

impl Objective {
    /// The share of calls a latency objective covers unless [`percentile`](Self::percentile) says otherwise.
    pub const DEFAULT_PERCENTILE: f64 = 99.0;

    /// An objective that promises nothing yet.
    pub const fn new() -> Objective {
        Objective { success: None, latency_nanos: None, percentile: Self::DEFAULT_PERCENTILE }
    }

    /// At least `percent` % of calls succeed (`99.9`); strictly between 0 and 100.
    pub const fn success(mut self, percent: f64) -> Objective {
        self.success = Some(percent);
        self
    }

    /// [`percentile`](Self::percentile) % of calls end within `threshold`.
    pub const fn latency(mut self, threshold: Duration) -> Objective {
        // Saturates: a threshold of centuries is as good as none.
        let nanos = threshold.as_nanos();
        self.latency_nanos = Some(if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 });
        self
    }

    /// [`latency`](Self::latency) in milliseconds.
    pub const fn latency_ms(self, millis: u64) -> Objective {
        self.latency(Duration::from_millis(millis))
    }

    /// The share of calls, in percent, that must meet the latency threshold
    /// (default 99); strictly between 0 and 100.
    pub const fn percentile(mut self, percent: f64) -> Objective {
        self.percentile = percent;
        self
    }

    /// The success objective in percent, if any.
    pub const fn success_percent(&self) -> Option<f64> {
        self.success
    }

    /// The latency threshold, if any.
    pub const fn latency_threshold(&self) -> Option<Duration> {
        match self.latency_nanos {
            Some(nanos) => Some(Duration::from_nanos(nanos)),
            None => None,
        }
    }

    /// The share of calls the latency threshold covers, in percent.
    pub const fn percentile_percent(&self) -> f64 {
        self.percentile
    }

    /// Whether the objective promises anything and every number is in range.
    pub const fn check(&self) -> Result<(), &'static str> {
        if self.success.is_none() && self.latency_nanos.is_none() {
            return Err("an objective needs a success ratio or a latency threshold");
        }
        if let Some(percent) = self.success
            && !(percent > 0.0 && percent < 100.0)
        {
            return Err("the success objective must be a percentage strictly between 0 and 100");
        }
        if !(self.percentile > 0.0 && self.percentile < 100.0) {
            return Err("the latency percentile must be a percentage strictly between 0 and 100");
        }
        if let Some(0) = self.latency_nanos {
            return Err("the latency threshold must be above zero");
        }
        Ok(())
    }
}

/// Whether a bucket bound and a threshold in seconds are the same boundary
/// (equal up to the rounding of a decimal written two ways).
pub(crate) fn same_bound(bound: f64, seconds: f64) -> bool {
    (bound - seconds).abs() <= 1e-9 * seconds.abs().max(1e-9)
}

impl Default for Objective {
    fn default() -> Self {
        Objective::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_numbers_are_reported() {
        assert!(Objective::new().check().is_err());
        assert!(Objective::new().success(0.0).check().is_err());
        assert!(Objective::new().success(f64::NAN).check().is_err());
        assert!(Objective::new().latency_ms(0).check().is_err());
        assert!(Objective::new().latency_ms(5).percentile(100.0).check().is_err());
        assert!(Objective::new().latency_ms(5).percentile(50.0).success(99.0).check().is_ok());
    }
}
