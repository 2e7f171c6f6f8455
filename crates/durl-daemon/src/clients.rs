//! How many RPC connections the daemon holds: in all, and per client address, so that one
//! client (a runaway script, a misbehaving front end, or anyone who can reach a daemon bound
//! to a network address) cannot take every slot. A connection over the limit is closed at
//! once; a slot is given back when its connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The open connections, counted.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    per_client: usize,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    client: IpAddr,
}

impl Slots {
    pub(crate) fn new(max: usize, per_client: usize) -> Arc<Slots> {
        let max = max.max(1);
        Arc::new(Slots {
            max,
            per_client: per_client.clamp(1, max),
            held: Mutex::new(Held::default()),
        })
    }

    /// A slot for a connection from `client`, or `None` when it or everyone is at the limit.
    pub(crate) fn take(self: &Arc<Self>, client: IpAddr) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held.by_client.get(&client).copied().unwrap_or(0);
        if held.total >= self.max || mine >= self.per_client {
            return None;
        }
        held.total += 1;
        held.by_client.insert(client, mine + 1);
        Some(Slot {
            slots: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total -= 1;
        if let Some(n) = held.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_share_and_slots_come_back() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let c: IpAddr = "::1".parse().unwrap();
        let slots = Slots::new(5, 2);
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "a is at its share");
        let _b1 = slots.take(b).unwrap();
        let _b2 = slots.take(b).unwrap();
        let _c1 = slots.take(c).unwrap();
        assert!(slots.take(c).is_none(), "everyone is at the limit");
        drop(a1);
        assert!(slots.take(b).is_none(), "b is still at its share");
        let _a3 = slots.take(a).unwrap();
        assert!(slots.take(c).is_none());
        // A share larger than the whole is the whole.
        let one = Slots::new(1, 10);
        let _x = one.take(a).unwrap();
        assert!(one.take(b).is_none());
    }
}
