//! Connections of `uwsgi://` listeners: a packet ([`crate::uwsgi`]) instead of an HTTP head,
//! then the same body, dispatch and response machinery as for HTTP. The packet's variables
//! become the request's view of its client (`REMOTE_ADDR`, `SERVER_NAME`, the scheme...):
//! only peers in `--uwsgi-allow-from` get this far, and no forwarded header is believed
//! over them (the connection is never `trusted`).

use super::Engine;
use super::conn::Phase;
use super::read::PacketHead;
use crate::peer::ConnInfo;
use crate::uwsgi::{self, Gateway};
use crate::wsgi::ConnView;
use std::sync::Arc;

impl<'a> Engine<'a> {
    /// Decodes the uwsgi packet the buffer holds and starts its request; returns whether
    /// one was started (the caller goes on with the connection's next phase).
    pub(super) fn advance_packet(&mut self, key: usize) -> bool {
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let ex = conn.ex.as_mut().expect("the loop holds idle connections");
        if ex.rbuf.is_empty() {
            return false;
        }
        let decoded = match uwsgi::parse_packet(ex.rbuf.data(), &self.shared.limits) {
            Ok(None) => return false,
            Ok(Some((packet, consumed))) => {
                ex.rbuf.consume(consumed);
                uwsgi::into_request(packet)
            }
            Err(err) => Err(err),
        };
        let (head, gateway) = match decoded {
            Ok(request) => request,
            Err(err) => {
                // A front end's packet, not a client's: nothing is answered (nginx would
                // only turn it into a 502), and the operator hears of it.
                let from = match conn.peer.info.remote_addr.as_str() {
                    "" => "a Unix socket client",
                    addr => addr,
                };
                tracing::warn!("uwsgi packet from {from} refused: {err}; closing the connection");
                self.close(key);
                return false;
            }
        };
        ex.view = Arc::new(ConnView::new(client(&conn.peer.info, gateway)));
        // From here on the request is an HTTP one's: its head has arrived. (The request
        // began at the accept, which `ex.started` already says.)
        conn.phase = Phase::Head;
        self.on_head::<PacketHead>(key, head);
        true
    }
}

/// The request's client as the packet describes it, falling back to the connection's facts
/// for what it leaves out.
fn client(conn: &ConnInfo, gateway: Gateway) -> ConnInfo {
    let or = |key: &str, own: &String| gateway.text(key).unwrap_or_else(|| own.clone());
    ConnInfo {
        remote_addr: or("REMOTE_ADDR", &conn.remote_addr),
        remote_port: or("REMOTE_PORT", &conn.remote_port),
        server_name: or("SERVER_NAME", &conn.server_name),
        server_port: or("SERVER_PORT", &conn.server_port),
        port_received: conn.port_received,
        url_scheme: gateway.url_scheme(conn.url_scheme),
        forwarded_host: None,
        forwarded_port: None,
        proxy_header: conn.proxy_header.clone(),
        trusted: conn.trusted,
        gateway: Some(Arc::new(gateway)),
    }
}
