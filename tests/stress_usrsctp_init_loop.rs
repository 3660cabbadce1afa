//! Reproduction of a hang in usrsctp 0.9.5.0 found by `usrsctp-stress --malformed`.
//!
//! Malformed packets that carry an INIT chunk, with the association's verification tag and a
//! correct CRC32c, fed to established associations one at a time: within a few packets to a
//! few hundred (about 2 s) one of them leaves usrsctp's stack thread spinning forever inside
//! `sctp_send_initiate_ack` (in a static helper it calls; gdb shows the same frames on every
//! sample). From then on the stack handles no input, timer or command: every association of
//! the process stalls. Two packets that did it (after the 12-byte common header):
//!
//! - `01 03 00 18 5a 27 86 34 00 00 00 00 00 00 00 35 00 00 01 01 01 01 01 01` (an INIT of
//!   length 24 with 0 outbound streams; the 123rd packet, on the 33rd pair);
//! - `00 03 00 10 c9 31 a2 58 00 00 00 00 00 00 00 35` then `01 01 01 01` and 12 more bytes
//!   (a DATA chunk, then an INIT chunk whose length, 257, runs past the packet; the 3rd).
//!
//! The first does not hang a fresh association when sent alone, so the association's state
//! matters and the test replays the whole seeded sequence. The tags differ from run to run,
//! so the packet that hangs can too.
//!
//! The cause is in usrsctp 0.9.5.0's `sctp_are_there_new_addresses` (a parameter walk with no
//! end bound; fixed upstream after the release, sctplab/usrsctp#570). `Association::input` now
//! refuses INIT / INIT ACK packets that break RFC 9260's structure rules before usrsctp sees
//! them (see `usrsctp/src/packet.rs`); this test keeps that guard honest.

use std::time::{Duration, Instant};

use usrsctp::{
    Association, AssociationConfig, Diagnostics, Error, Event, Stack, StackConfig, Worker,
};
use usrsctp_test_support::Rng;

/// Two workers of `stack`, each with one association (not yet connected).
fn pair(stack: &Stack) -> (Worker, Association, Worker, Association) {
    let (wa, wb) = (
        stack.worker().expect("worker"),
        stack.worker().expect("worker"),
    );
    let a = wa
        .associate(AssociationConfig::default())
        .expect("associate");
    let b = wb
        .associate(AssociationConfig::default())
        .expect("associate");
    (wa, a, wb, b)
}

/// Carries packets between the two associations (same thread) until both are connected;
/// returns a packet A sent, for its ports and verification tag.
fn connect(wa: &Worker, a: &Association, wb: &Worker, b: &Association) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut up_a, mut up_b, mut sample) = (false, false, None);
    while !(up_a && up_b && sample.is_some()) {
        assert!(Instant::now() < deadline, "handshake timed out");
        while let Some(ev) = wa.try_recv() {
            match ev {
                Event::Transmit { packet, .. } => {
                    if up_a && up_b {
                        sample = Some(packet.clone());
                    }
                    let _ = b.input(packet);
                }
                Event::Connected { .. } => up_a = true,
                _ => {}
            }
        }
        while let Some(ev) = wb.try_recv() {
            match ev {
                Event::Transmit { packet, .. } => {
                    let _ = a.input(packet);
                }
                Event::Connected { .. } => {
                    up_b = true;
                    // Make A send something once both are up, so we capture a packet with
                    // A's final verification tag.
                }
                _ => {}
            }
        }
        if up_a && up_b && sample.is_none() {
            let _ = a.send(0, usrsctp::ppid::BINARY, vec![1u8; 8], Default::default());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    sample.unwrap_or_default()
}

/// Packets the stack thread has taken from its queue: fed to usrsctp, or dropped because the
/// association had closed meanwhile (a forged INIT can restart or abort it).
fn handled() -> u64 {
    let d = Diagnostics::current();
    d.packets_in + d.inputs_dropped
}

/// An INIT chunk with random fixed fields and 0–5 random but well-formed parameters
/// (address, cookie-preservative, supported-address-types, forward-TSN, extensions, unknown).
fn random_init(rng: &mut Rng) -> Vec<u8> {
    const TYPES: [u16; 8] = [5, 6, 9, 11, 12, 0xc000, 0x8008, 0x8002];
    let mut c = vec![1, 0, 0, 0];
    let mut fixed = [0u8; 16];
    rng.fill(&mut fixed);
    c.extend_from_slice(&fixed);
    for _ in 0..rng.below(6) {
        let kind = if rng.chance(0.8) {
            TYPES[rng.below(8) as usize]
        } else {
            rng.next_u64() as u16
        };
        let len = 4 + rng.below(28) as usize;
        c.extend_from_slice(&kind.to_be_bytes());
        c.extend_from_slice(&(len as u16).to_be_bytes());
        let mut value = vec![0u8; len - 4];
        rng.fill(&mut value);
        c.extend_from_slice(&value);
        while c.len() % 4 != 0 {
            c.push(0);
        }
    }
    let len = c.len() as u16;
    c[2..4].copy_from_slice(&len.to_be_bytes());
    c
}

/// Feeds malformed packets that carry an INIT chunk (seeded, so the same sequence every run),
/// one at a time, to live associations (a new pair whenever one is closed). Before
/// `Association::input` checked INIT structure, one of the first few hundred left the stack
/// thread spinning; now the invalid ones are refused with `MalformedPacket` and the ones that
/// pass must each be processed by the stack within 2 s.
#[test]
fn malformed_init_chunks_do_not_hang_the_stack() {
    use usrsctp_harness::malformed::malformed;
    use usrsctp_test_support::sctp::{chunk_offsets, fill_checksum};
    const PACKETS: u64 = 20_000;
    let stack = Stack::get_or_start(StackConfig::default()).expect("stack");
    let refused_before = {
        let d = Diagnostics::current();
        d.inputs_refused + d.checksum_errors
    };
    let mut rng = Rng::new(1);
    let (mut tried, mut refused, mut accepted, mut pairs) = (0u64, 0u64, 0u64, 0u64);
    while tried < PACKETS {
        let (wa, a, wb, b) = pair(&stack);
        let sample = connect(&wa, &a, &wb, &b);
        pairs += 1;
        while tried < PACKETS {
            let mut p = malformed(&mut rng, &sample);
            let Some(&init) = chunk_offsets(&p).iter().find(|&&at| p[at] == 1) else {
                continue;
            };
            if tried % 2 == 1 {
                // The shape a real INIT has (tag 0, alone, well-formed parameters) with random
                // contents: these pass the check and reach usrsctp's INIT handling for an
                // existing association (the code that used to spin).
                p.truncate(init);
                p.truncate(12);
                p[4..8].copy_from_slice(&[0; 4]);
                p.extend(random_init(&mut rng));
                fill_checksum(&mut p);
            }
            tried += 1;
            let before = handled();
            match b.input(p.clone()) {
                Ok(()) => accepted += 1,
                Err(Error::MalformedPacket { .. }) => {
                    refused += 1;
                    continue;
                }
                Err(_) => break, // closed by an earlier packet: next pair
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            while handled() == before {
                if Instant::now() > deadline {
                    let hex: String = p.iter().map(|b| format!("{b:02x}")).collect();
                    panic!("stack stuck after packet #{tried} (pair {pairs}): {hex}");
                }
                std::thread::yield_now();
            }
            while wa.try_recv().is_some() {}
            while wb.try_recv().is_some() {}
        }
    }
    eprintln!(
        "no hang in {tried} INIT-carrying packets over {pairs} pairs: {refused} refused as \
         invalid, {accepted} passed to usrsctp"
    );
    assert!(
        refused > 0,
        "the structural check refused the invalid INIT packets"
    );
    // Every refusal is counted: a wrong checksum, or an INIT that breaks the structure rules
    // (the counters are process-wide, and the other test here may add its own).
    let d = Diagnostics::current();
    assert!(d.inputs_refused + d.checksum_errors - refused_before >= refused);
    // A pair still works afterwards: the stack thread is alive.
    let (wa, a, wb, b) = pair(&stack);
    assert!(!connect(&wa, &a, &wb, &b).is_empty());
}

/// The exact trigger, built by hand: an INIT (verification tag 0, correct CRC32c, valid fixed
/// fields) for an established association, carrying a parameter of length 0. usrsctp 0.9.5.0
/// validates the INIT, answers it through `sctp_send_initiate_ack`, and its
/// `sctp_are_there_new_addresses` then never advances past that parameter. The guard in
/// `Association::input` must refuse it, and the stack must keep serving the association.
#[test]
fn init_with_a_zero_length_parameter_is_refused() {
    let stack = Stack::get_or_start(StackConfig::default()).expect("stack");
    let (wa, a, wb, b) = pair(&stack);
    let sample = connect(&wa, &a, &wb, &b);
    let mut p = sample[..4].to_vec(); // A's ports: the packet comes "from A"
    p.extend_from_slice(&[0; 8]); // verification tag 0, checksum (filled below)
    p.extend_from_slice(&[1, 0, 0, 24]); // INIT, length 24
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes()); // initiate tag
    p.extend_from_slice(&0x0010_0000u32.to_be_bytes()); // a_rwnd
    p.extend_from_slice(&[0, 16, 0, 16]); // streams out / in
    p.extend_from_slice(&1u32.to_be_bytes()); // initial TSN
    p.extend_from_slice(&[0x12, 0x34, 0, 0]); // unknown parameter, length 0
    usrsctp_test_support::fill_checksum(&mut p);
    let err = b.input(p).expect_err("refused before usrsctp sees it");
    assert!(matches!(err, Error::MalformedPacket { .. }), "{err}");
    // The association and the stack are unharmed: a message still goes through.
    a.send(1, usrsctp::ppid::BINARY, vec![7; 100], Default::default())
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            Instant::now() < deadline,
            "no message after the refused INIT"
        );
        while let Some(ev) = wa.try_recv() {
            if let Event::Transmit { packet, .. } = ev {
                let _ = b.input(packet);
            }
        }
        match wb.try_recv() {
            Some(Event::Transmit { packet, .. }) => {
                let _ = a.input(packet);
            }
            // (`connect` had A send one 8-byte message; ours is the 100-byte one.)
            Some(Event::Message { message, .. }) if message.data.len() == 100 => {
                assert_eq!(message.data, vec![7; 100]);
                break;
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}
