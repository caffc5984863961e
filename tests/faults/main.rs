//! Fault injection on real `mictlanx-peer` processes (SIGSTOP, SIGKILL) behind an in-process router: reads,
//! writes and fan-outs each name the invariant they hold. The tests run one at a time (`faults::serial`):
//! they time things and count the router's hedges and failovers.

mod fanouts;
mod reads;
mod writes;
