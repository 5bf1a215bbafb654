//! Tests of the netdev room.
