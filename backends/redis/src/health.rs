//! Which pooled connections are up, learnt from fred's connection events,
//! so a command never goes to a connection fred has seen die.
//!
//! fred keeps a client's state `Connected` from the moment its connection
//! drops until its first reconnection attempt starts, one backoff delay
//! later; a command sent in that window passes fred's `fail_fast` check,
//! then waits behind the reconnection for the whole command timeout
//! (measured: 2 s for requests in the first ~100–200 ms of an outage).
//! fred broadcasts the drop synchronously when it sees it, so the store
//! reads each client's pending events right before it picks a client: a
//! drop marks the client down, its reconnection marks it up again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};

use fred::prelude::{
    Client, ClientLike, Error as FredError, EventInterface, Pool, Server, ServerConfig,
};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

/// The event receivers of every pooled client, and what they said.
#[derive(Debug)]
pub(crate) struct Health {
    /// One per client, in the pool's order; empty when not watched.
    watches: Vec<Watch>,
    next: AtomicUsize,
}

#[derive(Debug)]
struct Watch {
    events: Mutex<Events>,
    /// The last verdict, for readers that find the events being read.
    down: AtomicBool,
}

#[derive(Debug)]
struct Events {
    errors: Receiver<(FredError, Option<Server>)>,
    reconnects: Receiver<Server>,
}

/// What a receiver held since it was last read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pending {
    Nothing,
    Some,
    /// Events were lost (lagged) or the channel closed: no longer known.
    Unknown,
}

fn drain<T: Clone>(receiver: &mut Receiver<T>) -> Pending {
    let mut seen = Pending::Nothing;
    loop {
        match receiver.try_recv() {
            Ok(_) if seen == Pending::Nothing => seen = Pending::Some,
            Ok(_) => {}
            Err(TryRecvError::Empty) => return seen,
            Err(TryRecvError::Lagged(_)) => seen = Pending::Unknown,
            Err(TryRecvError::Closed) => return Pending::Unknown,
        }
    }
}

impl Events {
    /// Applies the pending events to `down`: a drop alone means down, a
    /// reconnection alone up; both, or lost events, leave it to fred's
    /// state (`Connected` or not).
    fn update(&mut self, client: &Client, down: bool) -> bool {
        match (drain(&mut self.errors), drain(&mut self.reconnects)) {
            (Pending::Nothing, Pending::Nothing) => down,
            (Pending::Some, Pending::Nothing) => true,
            (Pending::Nothing, Pending::Some) => false,
            _ => !client.is_connected(),
        }
    }
}

impl Watch {
    fn is_down(&self, client: &Client) -> bool {
        let mut events = match self.events.try_lock() {
            Ok(events) => events,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another request is reading the events right now: its
            // verdict, from a moment ago, will do.
            Err(TryLockError::WouldBlock) => return self.down.load(Ordering::Acquire),
        };
        let down = events.update(client, self.down.load(Ordering::Acquire));
        self.down.store(down, Ordering::Release);
        down
    }
}

impl Health {
    /// Watches every client of `pool`. A clustered pool is not watched
    /// (fred's own `fail_fast` decides): a cluster client has one
    /// connection per node, and one node's outage must not stop commands
    /// for the others.
    pub(crate) fn watch(pool: &Pool) -> Self {
        let clustered = matches!(pool.client_config().server, ServerConfig::Clustered { .. });
        let watches = if clustered {
            Vec::new()
        } else {
            pool.clients()
                .iter()
                .map(|client| Watch {
                    events: Mutex::new(Events {
                        errors: client.error_rx(),
                        reconnects: client.reconnect_rx(),
                    }),
                    down: AtomicBool::new(false),
                })
                .collect()
        };
        Health {
            watches,
            next: AtomicUsize::new(0),
        }
    }

    /// The next client, round robin, whose connection is up by both its
    /// events and fred's state; `None` when there is none.
    pub(crate) fn pick<'p>(&self, pool: &'p Pool) -> Option<&'p Client> {
        let clients = pool.clients();
        let count = clients.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..count {
            let i = start.wrapping_add(k) % count;
            let Some(client) = clients.get(i) else {
                continue;
            };
            let down = self.watches.get(i).is_some_and(|w| w.is_down(client));
            if !down && client.is_connected() {
                return Some(client);
            }
        }
        None
    }
}
