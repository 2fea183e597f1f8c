mod util;

mod chunking;
mod fixtures;
mod formats;
mod linktypes;
mod malformed;
mod semantics;
mod shared_data;
mod tshark;
mod tshark_live;
