//! Which budgets a request goes through, and how long they are kept.
//!
//! - **The credential's budget** is shared by every client and handle in the process built with
//!   the same credential for the same API host (the API counts them together). It lives in a
//!   registry for as long as it matters: while anything holds it, and after that until its
//!   window and any block are over. So a client or a handle made per request is paced exactly
//!   like one long-lived client, and a 429's block survives rebuilding the client; entries
//!   nobody holds go once they are spent, so memory stays bounded by what is in use.
//! - **A quota set by hand** on a builder is that client's own limit: a second budget, beside
//!   the credential's, kept by the client and gone with it. A request takes a place in both.
//!   So it limits the client that set it and never another, and it only ever slows its client
//!   down: the credential's budget (the server's reported policy, or the provider's default)
//!   still holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use super::{Budget, BudgetSnapshot, Permit, Quota, Reported, Setting};

/// Budgets by API base URL and credential (a fingerprint), kept while they matter.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// By base URL, then credential (nested, so that a lookup borrows the URL).
    budgets: HashMap<String, HashMap<u64, Arc<Budget>>>,
    /// How many budgets there are.
    count: usize,
    /// The size at which the spent entries are swept next: twice what was left after the last
    /// sweep, so a sweep costs amortised O(1) per lookup.
    sweep_at: usize,
}

impl Budget {
    /// A client's own budget: `quota` (checked), set by hand.
    pub(crate) fn own(quota: Quota) -> Arc<Budget> {
        Arc::new(Budget::new(Setting {
            quota,
            explicit: true,
        }))
    }
}

/// Entries below this many are never swept.
const LEAST_SWEEP: usize = 64;

impl Registry {
    /// The process's registry of credentials' budgets.
    pub(crate) fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::default)
    }

    /// The budget of `credential` at `base_url`: the one kept, or a new one keeping `setting`.
    pub(crate) fn budget(&self, base_url: &str, credential: u64, setting: Setting) -> Arc<Budget> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.count >= entries.sweep_at.max(LEAST_SWEEP) {
            entries.sweep(Instant::now());
        }
        if let Some(budget) = entries
            .budgets
            .get(base_url)
            .and_then(|by_credential| by_credential.get(&credential))
        {
            return budget.clone();
        }
        let budget = Arc::new(Budget::new(setting));
        entries
            .budgets
            .entry(base_url.to_string())
            .or_default()
            .insert(credential, budget.clone());
        entries.count += 1;
        budget
    }

    /// How many budgets it keeps.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).count
    }
}

impl Entries {
    /// Forgets the budgets nobody holds whose window and block are over.
    fn sweep(&mut self, now: Instant) {
        for by_credential in self.budgets.values_mut() {
            by_credential
                .retain(|_, budget| Arc::strong_count(budget) > 1 || !budget.lock().is_spent(now));
        }
        self.budgets
            .retain(|_, by_credential| !by_credential.is_empty());
        self.count = self.budgets.values().map(HashMap::len).sum();
        self.sweep_at = self.count * 2;
    }
}

/// The budgets one client's requests go through: the credential's and the client's own (a
/// quota set by hand), either, both or none.
#[derive(Clone, Debug, Default)]
pub(crate) struct Budgets {
    shared: Option<Arc<Budget>>,
    own: Option<Arc<Budget>>,
}

/// The places one request holds, one per budget it goes through.
#[derive(Debug, Default)]
pub(crate) struct Permits {
    shared: Option<Permit>,
    own: Option<Permit>,
}

impl Budgets {
    /// The budgets of `credential` at `base_url`: the credential's, kept in the process's
    /// registry, if its provider has a `default` quota; and `own`, a quota set by hand.
    pub(crate) fn of(
        base_url: &str,
        credential: u64,
        default: Option<Quota>,
        own: Option<Arc<Budget>>,
    ) -> Self {
        let shared = default.map(|quota| {
            Registry::global().budget(
                base_url,
                credential,
                Setting {
                    quota,
                    explicit: false,
                },
            )
        });
        Self { shared, own }
    }

    /// Budgets made by hand, for the budget's own tests.
    #[cfg(test)]
    pub(crate) fn new_for_tests(shared: Option<Arc<Budget>>, own: Option<Arc<Budget>>) -> Self {
        Self { shared, own }
    }

    /// Whether requests go through no budget at all.
    pub(crate) fn is_none(&self) -> bool {
        self.shared.is_none() && self.own.is_none()
    }

    /// Whether an answer's `Ratelimit-Policy` should be read.
    pub(crate) fn wants_policy(&self) -> bool {
        self.shared.as_ref().is_some_and(|b| b.wants_policy())
            || self.own.as_ref().is_some_and(|b| b.wants_policy())
    }

    /// A place in each budget (see [`Budget::acquire`]), or how long the wait would have been.
    /// A place taken in one and refused in the other is given back.
    pub(crate) async fn acquire(
        &self,
        deadline: Instant,
        longest_block: Duration,
        span: &tracing::Span,
    ) -> Result<Permits, Duration> {
        let own = match &self.own {
            Some(budget) => Some(budget.acquire(deadline, longest_block, span).await?),
            None => None,
        };
        // Refused here, or the caller gone while waiting here: the own place, not yet used,
        // goes back as it drops.
        let shared = match &self.shared {
            Some(budget) => Some(budget.acquire(deadline, longest_block, span).await?),
            None => None,
        };
        Ok(Permits { shared, own })
    }

    /// What the budgets know now: the client's own, its room bounded by the credential's too,
    /// or the credential's alone; `None` without a budget.
    pub(crate) fn snapshot(&self) -> Option<BudgetSnapshot> {
        let shared = self.shared.as_ref().map(|b| b.snapshot());
        let Some(mut own) = self.own.as_ref().map(|b| b.snapshot()) else {
            return shared;
        };
        if let Some(shared) = shared {
            own.remaining = own.remaining.min(shared.remaining);
            own.blocked_for = own.blocked_for.max(shared.blocked_for);
        }
        Some(own)
    }
}

impl Permits {
    /// Whether the request holds no place (it goes through no budget).
    pub(crate) fn is_empty(&self) -> bool {
        self.shared.is_none() && self.own.is_none()
    }

    /// The request is on its way (see [`Permit::sending`]).
    pub(crate) fn sending(&mut self) {
        self.shared
            .iter_mut()
            .chain(&mut self.own)
            .for_each(Permit::sending);
    }

    /// The answer came (see [`Permit::answered`]); the places are spent. What the answer
    /// reports of the credential's limits is the credential's budget's to read: the client's
    /// own keeps its own count and window, and only shares a 429's block.
    pub(crate) fn answered(&mut self, block: Option<Duration>, report: Option<Reported>) {
        if let Some(permit) = self.shared.take() {
            permit.answered(block, report);
        }
        if let Some(permit) = self.own.take() {
            permit.answered(block, None);
        }
    }

    /// Nothing reached the server (it could not be connected to): the places go back.
    pub(crate) fn unsent(&mut self) {
        self.shared
            .take()
            .into_iter()
            .chain(self.own.take())
            .for_each(Permit::unused);
    }
}
