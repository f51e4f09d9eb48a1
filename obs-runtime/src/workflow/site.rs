//! The static a `#[workflow]` or `#[node]` adds beside its call site: its
//! options, the lifecycle events only workflows and nodes have, and their
//! metric handles. Plain `#[observe]` functions carry none of this.

use tracing_core::Level;

use super::graph::SiteCounts;
use super::limits::{NodeOptions, WorkflowOptions};
use super::metrics::FlowHandles;
use crate::callsite::{CallSite, Site};

/// What a workflow or node site is configured with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FlowOptions {
    Workflow(WorkflowOptions),
    Node(NodeOptions),
}

/// One `#[workflow]` or `#[node]` function's workflow part.
#[doc(hidden)]
pub struct FlowSite {
    pub(crate) site: &'static CallSite,
    pub(crate) options: FlowOptions,
    pub(crate) start: Site,
    pub(crate) retry: Site,
    pub(crate) timeout: Site,
    pub(crate) budget: Site,
    pub(crate) handles: FlowHandles,
    /// Where the learned shape counts this site's executions.
    pub(crate) shape: SiteCounts,
}

impl FlowSite {
    /// The workflow part of the `#[workflow]` function at `site`.
    pub const fn workflow(me: &'static FlowSite, site: &'static CallSite, options: WorkflowOptions) -> FlowSite {
        FlowSite::new(me, site, FlowOptions::Workflow(options))
    }

    /// The workflow part of the `#[node]` function at `site`.
    pub const fn node(me: &'static FlowSite, site: &'static CallSite, options: NodeOptions) -> FlowSite {
        FlowSite::new(me, site, FlowOptions::Node(options))
    }

    const fn new(me: &'static FlowSite, site: &'static CallSite, options: FlowOptions) -> FlowSite {
        let info = &site.info;
        FlowSite {
            site,
            options,
            start: Site::event(&me.start, info.ok_level, info),
            retry: Site::event(&me.retry, Level::WARN, info),
            timeout: Site::event(&me.timeout, Level::ERROR, info),
            budget: Site::event(&me.budget, Level::ERROR, info),
            handles: FlowHandles::new(),
            shape: SiteCounts::new(),
        }
    }

    /// The workflow or node name.
    pub(crate) fn name(&self) -> &'static str {
        self.site.name()
    }

    pub(crate) fn workflow_options(&self) -> WorkflowOptions {
        match self.options {
            FlowOptions::Workflow(options) => options,
            FlowOptions::Node(_) => WorkflowOptions::DEFAULT,
        }
    }

    pub(crate) fn node_options(&self) -> NodeOptions {
        match self.options {
            FlowOptions::Node(options) => options,
            FlowOptions::Workflow(_) => NodeOptions::DEFAULT,
        }
    }
}
