//! The local default: a data directory and an in-process queue.
