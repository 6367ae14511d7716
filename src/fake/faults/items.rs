//! Item faults (`POST /__fake/item-faults`, [`FakeServer::inject_item_fault`]): the next items
//! of an SFU batch operation fail inside its answer, each with its own `errorCode`, as the
//! SFU's items do; queued as one entry per injection with the items it has left, so that a
//! large count costs no memory.
//!
//! [`FakeServer::inject_item_fault`]: crate::fake::FakeServer::inject_item_fault

use serde_json::json;

use super::{one, Faults, MAX_QUEUED};

/// An error the SFU gives one item of a batch (a track, a data channel, an adapter) inside an
/// HTTP 200 (or the adapters' 503 when every item failed), for testing how your code handles
/// per-item failures. The item is not carried out. See [`FakeServer::inject_item_fault`].
///
/// [`FakeServer::inject_item_fault`]: crate::fake::FakeServer::inject_item_fault
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ItemFault {
    /// The item's `errorCode`, e.g. `internal_error`.
    pub error_code: String,
    /// The item's `errorDescription`, e.g. `Backend error`.
    pub error_description: String,
}

impl ItemFault {
    /// An item fault with this code and description.
    pub fn new(error_code: impl Into<String>, error_description: impl Into<String>) -> Self {
        Self {
            error_code: error_code.into(),
            error_description: error_description.into(),
        }
    }

    /// `internal_error` / "Backend error", as Cloudflare answers a pull that failed inside.
    pub fn internal_error() -> Self {
        Self::new("internal_error", DEFAULT_ITEM_DESCRIPTION)
    }
}

/// The description of an item fault that gives none.
const DEFAULT_ITEM_DESCRIPTION: &str = "Backend error";
/// The operations whose requests are batches of items, which item faults apply to.
const ITEM_OPERATIONS: &[&str] = &[
    "sfu-tracks-new",
    "sfu-tracks-update",
    "sfu-tracks-close",
    "sfu-datachannels-new",
    "sfu-datachannels-update",
    "sfu-datachannels-close",
    "sfu-adapters-websocket-new",
    "sfu-adapters-websocket-close",
];
/// The most injections of item faults waiting per operation (each for up to [`MAX_QUEUED`]
/// items), and the longest code and description.
const MAX_ITEM_INJECTIONS: usize = 100;
const LONGEST_ITEM_CODE: usize = 64;
const LONGEST_ITEM_DESCRIPTION: usize = 256;

impl Faults {
    /// Removes every item fault.
    pub(crate) fn clear_items(&mut self) {
        self.items.clear();
    }

    /// Queues `fault` for the next `count` items of `operation`, or says why not; answers how
    /// many items wait for one then.
    pub(crate) fn inject_items(
        &mut self,
        operation: &str,
        count: usize,
        fault: ItemFault,
    ) -> Result<usize, String> {
        let Some(operation) = ITEM_OPERATIONS.iter().find(|op| **op == operation) else {
            return Err(format!(
                "{operation:?} has no items; item faults apply to {}",
                ITEM_OPERATIONS.join(", ")
            ));
        };
        if fault.error_code.is_empty() || fault.error_code.len() > LONGEST_ITEM_CODE {
            return Err(format!("error_code must be 1 to {LONGEST_ITEM_CODE} bytes"));
        }
        if fault.error_description.len() > LONGEST_ITEM_DESCRIPTION {
            return Err(format!(
                "error_description must be at most {LONGEST_ITEM_DESCRIPTION} bytes"
            ));
        }
        let waiting = self.pending_items(operation);
        if count == 0 || count > MAX_QUEUED {
            return Err(format!("count must be 1 to {MAX_QUEUED}, not {count}"));
        }
        let queue = self.items.entry(operation).or_default();
        if waiting + count > MAX_QUEUED || queue.len() >= MAX_ITEM_INJECTIONS {
            return Err(format!(
                "{operation} already has {waiting} item faults waiting; at most {MAX_QUEUED} \
                 items, in {MAX_ITEM_INJECTIONS} injections, may wait"
            ));
        }
        queue.push_back((fault, count));
        Ok(waiting + count)
    }

    /// The fault for the next item of `operation`, consumed.
    pub(crate) fn take_item(&mut self, operation: &str) -> Option<ItemFault> {
        let queue = self.items.get_mut(operation)?;
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    /// How many items of `operation` will fail.
    pub(crate) fn pending_items(&self, operation: &str) -> usize {
        self.items
            .get(operation)
            .map_or(0, |q| q.iter().map(|(_, left)| left).sum())
    }

    /// How many items will fail, per operation.
    pub(crate) fn waiting_items(&self) -> serde_json::Map<String, serde_json::Value> {
        self.items
            .keys()
            .map(|op| (op.to_string(), json!(self.pending_items(op))))
            .filter(|(_, n)| *n != json!(0))
            .collect()
    }
}

/// The JSON body of `POST /__fake/item-faults`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemInjection {
    pub(crate) operation: String,
    #[serde(default = "one")]
    pub(crate) count: usize,
    pub(crate) error_code: String,
    #[serde(default = "default_item_description")]
    pub(crate) error_description: String,
}

fn default_item_description() -> String {
    DEFAULT_ITEM_DESCRIPTION.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_faults_fail_the_next_items_in_order_within_bounds() {
        let mut faults = Faults::default();
        let code = |c: &str| ItemFault::new(c, "d");
        assert_eq!(faults.inject_items("sfu-tracks-new", 2, code("a")), Ok(2));
        assert_eq!(faults.inject_items("sfu-tracks-new", 1, code("b")), Ok(3));
        assert_eq!(faults.take_item("sfu-tracks-new"), Some(code("a")));
        assert_eq!(faults.pending_items("sfu-tracks-new"), 2);
        assert_eq!(faults.take_item("sfu-tracks-new"), Some(code("a")));
        assert_eq!(faults.take_item("sfu-tracks-new"), Some(code("b")));
        assert_eq!(faults.take_item("sfu-tracks-new"), None);
        assert!(faults.waiting_items().is_empty());
        assert!(faults
            .inject_items("sfu-session-get", 1, code("a"))
            .unwrap_err()
            .contains("sfu-tracks-close"));
        assert!(faults.inject_items("sfu-tracks-new", 0, code("a")).is_err());
        assert!(faults.inject_items("sfu-tracks-new", 1, code("")).is_err());
        assert!(faults
            .inject_items("sfu-tracks-new", 1, ItemFault::new("a", "d".repeat(257)))
            .is_err());
        assert!(faults
            .inject_items("sfu-tracks-new", MAX_QUEUED + 1, code("a"))
            .is_err());
        for _ in 0..MAX_ITEM_INJECTIONS {
            assert!(faults
                .inject_items("sfu-tracks-close", 1, code("a"))
                .is_ok());
        }
        assert!(faults
            .inject_items("sfu-tracks-close", 1, code("a"))
            .is_err());
        faults.clear();
        assert_eq!(faults.pending_items("sfu-tracks-close"), 0);
        let parsed: ItemInjection =
            serde_json::from_str(r#"{"operation": "sfu-tracks-new", "error_code": "x"}"#).unwrap();
        assert_eq!(
            (parsed.count, parsed.error_description.as_str()),
            (1, "Backend error")
        );
    }
}
