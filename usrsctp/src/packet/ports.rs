//! The SCTP ports of a packet, rewritten between the port on the wire (the association's
//! configured `local_port`) and the one its socket is bound to inside usrsctp (see
//! `driver::ports` for why they differ). The checksum covers the ports: both rewrites happen
//! before it is computed (outgoing: the worker fills it as it takes the packet) or checked
//! (incoming: the handle checked it; usrsctp runs with checksum offload).

/// Writes `port` at `at` (0: source, 2: destination); a packet too short is left alone (the
/// input side refuses such packets before they get here).
fn set_port(packet: &mut [u8], at: usize, port: u16) {
    if let Some(field) = packet.get_mut(at..at + 2) {
        field.copy_from_slice(&port.to_be_bytes());
    }
}

/// A packet for usrsctp: a destination port equal to `wire` becomes `inner` (`input` refuses
/// any other; one would be left alone).
pub(crate) fn to_inner(packet: &mut [u8], wire: u16, inner: u16) {
    if packet.get(2..4) == Some(&wire.to_be_bytes()[..]) {
        set_port(packet, 2, inner);
    }
}

/// A packet from usrsctp: its source port becomes `wire`.
pub(crate) fn to_wire(packet: &mut [u8], wire: u16) {
    set_port(packet, 0, wire);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ports_are_rewritten_only_where_they_should_be() {
        // 5000 = 0x1388.
        let mut packet = vec![0x13, 0x88, 0x13, 0x88, 1, 2, 3, 4, 0, 0, 0, 0];
        to_inner(&mut packet, 5000, 0x0102);
        assert_eq!(&packet[..4], &[0x13, 0x88, 0x01, 0x02]);
        // Another destination port is left alone.
        let mut other = vec![0x13, 0x88, 0x13, 0x89, 0, 0, 0, 0, 0, 0, 0, 0];
        to_inner(&mut other, 5000, 0x0102);
        assert_eq!(&other[..4], &[0x13, 0x88, 0x13, 0x89]);
        let mut out = vec![0x01, 0x02, 0x13, 0x88, 9, 9, 9, 9, 0, 0, 0, 0];
        to_wire(&mut out, 5000);
        assert_eq!(out, [0x13, 0x88, 0x13, 0x88, 9, 9, 9, 9, 0, 0, 0, 0]);
        // Too short: untouched, no panic.
        let mut short = vec![1u8, 2, 3];
        to_inner(&mut short, 5000, 7);
        to_wire(&mut short[..1], 5000);
        assert_eq!(short, [1, 2, 3]);
    }
}
