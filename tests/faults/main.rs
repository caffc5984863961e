//! Fault injection on real `mictlanx-peer` processes (SIGSTOP, SIGKILL) behind an in-process router: reads,
//! writes and fan-outs each name the invariant they hold. A target of its own, and one test at a time
//! (`faults::serial`): they bound times in seconds, which neighbour tests loading the machine would blur.

mod down_holders;
mod fanouts;
mod model;
mod reads;
mod restart;
mod writes;
