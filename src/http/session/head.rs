//! Handing a complete head to its direction's state: the strict fast path (httparse
//! reads the head where it lies and says where it ends) and the general one (a head
//! cut at its blank line, read leniently when httparse refuses it).

use super::driver::Framing;
use super::{FlowContext, HttpSession};
use crate::flow::Direction;
use crate::http::parse;
use crate::http::HttpTransaction;

impl HttpSession {
    /// Reads a head at the start of `window` if httparse takes it strictly, and hands
    /// it to the direction's state; returns the head's length. `None` leaves the window
    /// to the general path (blank line searched, lenient reading), as for a head cut
    /// short.
    pub(super) fn on_strict_head(
        &mut self,
        dir: Direction,
        window: &[u8],
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) -> Option<usize> {
        match dir {
            Direction::ToServer => {
                let (req, len) = parse::strict_request_prefix(window)?;
                self.on_request_head(req, ctx, out);
                Some(len)
            }
            Direction::ToClient => {
                let (resp, len) = parse::strict_response_prefix(window)?;
                self.on_response_head(resp, parse::HeadQuirks::default(), ctx);
                Some(len)
            }
        }
    }

    /// Parses a complete head and hands it to the direction's state; a head that does
    /// not parse loses framing (counted).
    pub(super) fn on_head(
        &mut self,
        dir: Direction,
        head: &[u8],
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        let parsed = match dir {
            Direction::ToServer => {
                parse::parse_request_head(head).map(|req| self.on_request_head(req, ctx, out))
            }
            Direction::ToClient => parse::read_response_head(head)
                .map(|(resp, quirks)| self.on_response_head(resp, quirks, ctx)),
        };
        if let Err(e) = parsed {
            self.stats.count(e);
            let side = self.side_mut(dir);
            side.framing = Framing::Desync;
            // What follows the blank line starts a line.
            side.mid_line = false;
        }
    }
}
