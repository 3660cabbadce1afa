//! [`DataChannels`]: an association and its channel manager in one value, so no call needs the
//! association passed in.

use super::DtlsRole;
use super::{ChannelError, ChannelEvent, ChannelId, ChannelInfo, ChannelInit, ChannelManager};
use crate::association::Association;
use crate::config::AssociationConfig;
use crate::error::Error;
use crate::event::{AssocId, Event, MessageId};
use crate::worker::Worker;

/// An [`Association`] and the [`ChannelManager`] of its data channels, owned together: the
/// manager's calls without the `&assoc` argument.
///
/// It lives on the worker thread, like the association it owns. Feed it every event of its
/// association ([`handle_event`](Self::handle_event), `Transmit` included: it returns false
/// for those, the packet is still yours to carry), carry packets from the peer to
/// [`assoc()`](Self::assoc)`.input(..)`, and take [`ChannelEvent`]s with
/// [`poll_event`](Self::poll_event).
///
/// Dropping it drops the association, which aborts it; for a graceful end call
/// `assoc().close()` and keep feeding events until `Event::Closed`.
///
/// Two of them wired to each other in one thread; one opens a channel and sends on it:
///
/// ```
/// use std::time::{Duration, Instant};
/// use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, DataChannels, DtlsRole};
/// use usrsctp::{AssociationConfig, Event, Stack, Worker};
///
/// /// Takes `this` side's events, carrying its packets to `peer`; returns its channel events.
/// fn step(worker: &Worker, this: &mut DataChannels, peer: &DataChannels) -> Vec<ChannelEvent> {
///     while let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
///         if let Event::Transmit { packet, .. } = &ev {
///             let _ = peer.assoc().input(packet.clone());
///         }
///         this.handle_event(&ev); // every event, Transmit included
///     }
///     std::iter::from_fn(|| this.poll_event()).collect()
/// }
///
/// let stack = Stack::global()?;
/// let (wa, wb) = (stack.worker()?, stack.worker()?);
/// let mut a = DataChannels::associate(&wa, AssociationConfig::default(), DtlsRole::Client)?;
/// let mut b = DataChannels::associate(&wb, AssociationConfig::default(), DtlsRole::Server)?;
/// let chat = a.open_channel(ChannelInit::reliable("chat")).unwrap();
/// a.send_text(chat, "hello").unwrap(); // queued until the association is up
///
/// let deadline = Instant::now() + Duration::from_secs(10);
/// let mut got = Vec::new();
/// while got.is_empty() && Instant::now() < deadline {
///     step(&wa, &mut a, &b);
///     for ev in step(&wb, &mut b, &a) {
///         if let ChannelEvent::Message { channel, data } = ev {
///             got.push((channel, data));
///         }
///     }
/// }
/// assert_eq!(got, [(chat, ChannelData::Text("hello".into()))]);
/// # Ok::<(), usrsctp::Error>(())
/// ```
#[derive(Debug)]
pub struct DataChannels {
    assoc: Association,
    manager: ChannelManager,
}

impl DataChannels {
    /// Creates an association on `worker` (as [`Worker::associate`] does) for data channels on
    /// which we play DTLS `role`.
    ///
    /// The association's `buffered_amount_low_threshold` is set to `Some(0)` whatever
    /// `config` says: the association then reports each time its send queue empties, which
    /// the manager needs to report every channel's `BufferedAmountLow` on time. Per-channel
    /// thresholds are set with [`set_buffered_amount_low_threshold`](Self::set_buffered_amount_low_threshold).
    pub fn associate(
        worker: &Worker,
        mut config: AssociationConfig,
        role: DtlsRole,
    ) -> Result<DataChannels, Error> {
        config.buffered_amount_low_threshold = Some(0);
        Ok(DataChannels::new(worker.associate(config)?, role))
    }

    /// Takes an association that already exists. For channel `BufferedAmountLow` events that
    /// never come late, it should have been created with `buffered_amount_low_threshold:
    /// Some(0)` (see [`associate`](Self::associate)).
    pub fn new(assoc: Association, role: DtlsRole) -> DataChannels {
        let manager = ChannelManager::new(&assoc, role);
        DataChannels { assoc, manager }
    }

    /// Sets the peer's `a=max-message-size` (RFC 8841); 0 means the peer sets no limit.
    pub fn with_remote_max_message_size(mut self, size: usize) -> DataChannels {
        self.manager = self.manager.with_remote_max_message_size(size);
        self
    }

    /// Lets channels past the association's streams ask the peer for more (RFC 6525 Add
    /// Streams). Off by default, because the SCTP stack of Chrome, Safari and today's Firefox
    /// (dcsctp) never answers such a request: see [`ChannelManager::with_stream_growth`](super::ChannelManager::with_stream_growth).
    pub fn with_stream_growth(mut self, on: bool) -> DataChannels {
        self.manager = self.manager.with_stream_growth(on);
        self
    }

    /// The association: for [`input`](Association::input), [`close`](Association::close),
    /// [`stats`](Association::stats), its state.
    pub fn assoc(&self) -> &Association {
        &self.assoc
    }

    /// The association's id.
    pub fn id(&self) -> AssocId {
        self.assoc.id()
    }

    /// The channel manager (for the calls that only read).
    pub fn manager(&self) -> &ChannelManager {
        &self.manager
    }

    /// The association and the manager, apart.
    pub fn into_parts(self) -> (Association, ChannelManager) {
        (self.assoc, self.manager)
    }

    /// Feeds one event of the association; see [`ChannelManager::handle_event`].
    pub fn handle_event(&mut self, event: &Event) -> bool {
        self.manager.handle_event(&self.assoc, event)
    }

    /// The next channel event, if any. Looks at how far the send queue has drained first, so a
    /// `BufferedAmountLow` that is due comes out even before the next association event.
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.manager.refresh(&self.assoc);
        self.manager.poll_event()
    }

    /// Opens a channel; see [`ChannelManager::open_channel`].
    pub fn open_channel(&mut self, init: ChannelInit) -> Result<ChannelId, ChannelError> {
        self.manager.open_channel(&self.assoc, init)
    }

    /// Sends a text message (PPID 51; 56 when empty); see [`ChannelManager::send_text`].
    pub fn send_text(&mut self, channel: ChannelId, text: &str) -> Result<MessageId, ChannelError> {
        self.manager.send_text(&self.assoc, channel, text)
    }

    /// Sends a binary message (PPID 53; 57 when empty); see [`ChannelManager::send_binary`].
    pub fn send_binary(
        &mut self,
        channel: ChannelId,
        data: &[u8],
    ) -> Result<MessageId, ChannelError> {
        self.manager.send_binary(&self.assoc, channel, data)
    }

    /// Closes a channel by resetting its stream; see [`ChannelManager::close_channel`].
    ///
    /// `a` and `b` are two `DataChannels` wired to each other, as in the [type's
    /// example](DataChannels); `step` carries one side's events.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use usrsctp::datachannel::*;
    /// # use usrsctp::{AssociationConfig, Event, Stack, Worker};
    /// # fn step(worker: &Worker, this: &mut DataChannels, peer: &DataChannels) -> Vec<ChannelEvent> {
    /// #     while let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
    /// #         if let Event::Transmit { packet, .. } = &ev { let _ = peer.assoc().input(packet.clone()); }
    /// #         this.handle_event(&ev);
    /// #     }
    /// #     std::iter::from_fn(|| this.poll_event()).collect()
    /// # }
    /// # let stack = Stack::global()?;
    /// # let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let mut a = DataChannels::associate(&wa, AssociationConfig::default(), DtlsRole::Client)?;
    /// # let mut b = DataChannels::associate(&wb, AssociationConfig::default(), DtlsRole::Server)?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// let ch = a.open_channel(ChannelInit::reliable("short-lived"))?;
    /// let mut opened_at_b = false;
    /// while !opened_at_b && Instant::now() < deadline {
    ///     step(&wa, &mut a, &b);
    ///     opened_at_b |= step(&wb, &mut b, &a).iter().any(|e| matches!(e, ChannelEvent::Opened { .. }));
    /// }
    /// a.close_channel(ch)?;
    /// // Closed on each side once both directions of the stream are reset.
    /// let (mut closed_a, mut closed_b) = (false, false);
    /// while !(closed_a && closed_b) && Instant::now() < deadline {
    ///     closed_a |= step(&wa, &mut a, &b).contains(&ChannelEvent::Closed { channel: ch });
    ///     closed_b |= step(&wb, &mut b, &a).contains(&ChannelEvent::Closed { channel: ch });
    /// }
    /// assert!(closed_a && closed_b);
    /// assert!(a.channel(ch).is_none(), "its id may be used again");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_channel(&mut self, channel: ChannelId) -> Result<(), ChannelError> {
        self.manager.close_channel(&self.assoc, channel)
    }

    /// The channel's buffered amount; see [`ChannelManager::buffered_amount`].
    pub fn buffered_amount(&mut self, channel: ChannelId) -> usize {
        self.manager.buffered_amount(&self.assoc, channel)
    }

    /// Sets the channel's `bufferedAmountLowThreshold`; see
    /// [`ChannelManager::set_buffered_amount_low_threshold`].
    ///
    /// `a` and `b` are two `DataChannels` wired to each other, as in the [type's
    /// example](DataChannels); `step` carries one side's events.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use usrsctp::datachannel::*;
    /// # use usrsctp::{AssociationConfig, Event, Stack, Worker};
    /// # fn step(worker: &Worker, this: &mut DataChannels, peer: &DataChannels) -> Vec<ChannelEvent> {
    /// #     while let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
    /// #         if let Event::Transmit { packet, .. } = &ev { let _ = peer.assoc().input(packet.clone()); }
    /// #         this.handle_event(&ev);
    /// #     }
    /// #     std::iter::from_fn(|| this.poll_event()).collect()
    /// # }
    /// # let stack = Stack::global()?;
    /// # let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let mut a = DataChannels::associate(&wa, AssociationConfig::default(), DtlsRole::Client)?;
    /// # let mut b = DataChannels::associate(&wb, AssociationConfig::default(), DtlsRole::Server)?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// let bulk = a.open_channel(ChannelInit::reliable("bulk"))?;
    /// a.set_buffered_amount_low_threshold(bulk, 16 * 1024)?;
    /// for _ in 0..8 {
    ///     a.send_binary(bulk, &[7; 8 * 1024])?; // queued: the association is not up yet
    /// }
    /// assert_eq!(a.buffered_amount(bulk), 64 * 1024);
    /// let mut low = None;
    /// while low.is_none() && Instant::now() < deadline {
    ///     for ev in step(&wa, &mut a, &b) {
    ///         if let ChannelEvent::BufferedAmountLow { channel, buffered } = ev {
    ///             assert_eq!(channel, bulk);
    ///             low = Some(buffered);
    ///         }
    ///     }
    ///     step(&wb, &mut b, &a);
    /// }
    /// assert!(low.is_some_and(|buffered| buffered <= 16 * 1024));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_buffered_amount_low_threshold(
        &mut self,
        channel: ChannelId,
        bytes: usize,
    ) -> Result<(), ChannelError> {
        self.manager
            .set_buffered_amount_low_threshold(channel, bytes)
    }

    /// What is known about a channel, while it exists.
    pub fn channel(&self, channel: ChannelId) -> Option<&ChannelInfo> {
        self.manager.channel(channel)
    }

    /// The ids of the channels that exist, in id order.
    pub fn channel_ids(&self) -> Vec<ChannelId> {
        self.manager.channel_ids()
    }

    /// The largest message a channel may send; see [`ChannelManager::max_message_size`].
    pub fn max_message_size(&self) -> usize {
        self.manager.max_message_size(&self.assoc)
    }
}
